"""What a person or a program sees of a result: text, JSON, message trees and sequence diagrams,
the step-through page, the explorer page, the state graph, the plain-words explanation.

May import: `turnproof.explore.search`, `turnproof.model`, `turnproof.specs`.
"""
