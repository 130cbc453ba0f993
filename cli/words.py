"""Options that take a list of words, `--designs A B C`, the way `turnproof review` spells them.

Click options take a fixed number of values. A `Words` option is a click option (so `--help` lists
it and click checks it), and a `WordsCommand` spells each one out for click before parsing:
`--designs A B --out D` becomes `--designs A --designs B --out D`. Unknown options and stray words
are left to click, which reports them as usage errors (exit 2).
"""

from __future__ import annotations

import click


class Words(click.Option):
    """An option that takes the words up to the next option; its value is the tuple of them."""

    def __init__(self, *decls: str, **attrs) -> None:
        attrs.setdefault("metavar", "NAME …")
        super().__init__(*decls, multiple=True, **attrs)


class WordsCommand(click.Command):
    """A command whose `Words` options each take the words up to the next option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        lists = {opt for p in self.params if isinstance(p, Words) for opt in p.opts}
        return super().parse_args(ctx, spread(args, lists, ctx))


def spread(args: list[str], lists: set[str], ctx: click.Context | None = None) -> list[str]:
    """Repeat a list option before each of its words; a list option with no word is a usage error."""
    out: list[str] = []
    current = None  # the list option whose words we are reading
    waiting = None  # a list option that has not had a word yet
    for i, a in enumerate(args):
        if a == "--":
            out += args[i:]
            break
        if a.startswith("-") and len(a) > 1:
            if waiting:
                raise click.UsageError(f"{waiting} needs at least one value", ctx)
            name, eq, _ = a.partition("=")
            current = name if name in lists else None
            waiting = current if current and not eq else None
            out.append(a)
        elif current:
            out += [a] if waiting else [current, a]
            waiting = None
        else:
            out.append(a)
    if waiting:
        raise click.UsageError(f"{waiting} needs at least one value", ctx)
    return out
