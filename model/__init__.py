"""The system under study: opencode's message store, runner and prompt loop as pure state machines.

Lives here: immutable worlds (`world`), the store, the runner, the fibers' steps with their opencode
anchors (`fibers`, `source`), designs and scenarios as data (`config`), and step footprints.
May import: the standard library only. Everything else in turnproof builds on this layer.
"""
