"""Splitting a Bash command into the simple commands it runs, for permission checks.

This is not a shell: it understands quoting, the separators (`;` `&&` `||` `|` `&` newline,
`(` `)`), command substitution (`$(…)`, backticks, `<(…)`, `>(…)`, whose bodies become commands of
their own) and redirections (whose targets are reported). What it cannot follow (heredocs, an
unterminated quote or substitution) raises `Unparseable`; callers deny such commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_SEPARATORS = ";&|()\n"
_BLANKS = " \t\r"


class Unparseable(ValueError):
    """The command uses syntax the parser cannot follow safely."""


@dataclass
class ParsedCommand:
    """The simple commands (as word lists) and the output-redirection targets of a command."""

    commands: list[list[str]] = field(default_factory=list)
    write_targets: list[str] = field(default_factory=list)


def parse_command(text: str) -> ParsedCommand:
    """Parse `text`; every command substitution body is parsed into the same result."""
    parsed = ParsedCommand()
    _Lexer(text, parsed).run()
    return parsed


class _Lexer:
    def __init__(self, text: str, out: ParsedCommand) -> None:
        self.text = text
        self.out = out
        self.i = 0
        self.words: list[str] = []
        self.word: list[str] | None = None  # None: not inside a word

    def run(self) -> None:
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch in _BLANKS:
                self._end_word()
                self.i += 1
            elif ch in "<>":
                self._redirection()
            elif ch in _SEPARATORS:
                self._end_word()
                self._end_command()
                self.i += 1
            else:
                self._word_unit()
        self._end_word()
        self._end_command()

    def _word_unit(self) -> None:
        """Consume one piece of a word: a quoted string, an escape, a substitution or a char."""
        text, ch = self.text, self.text[self.i]
        if ch == "'":
            end = text.find("'", self.i + 1)
            if end < 0:
                raise Unparseable("unterminated single quote")
            self._add(text[self.i + 1 : end])
            self.i = end + 1
        elif ch == '"':
            self._double_quoted()
        elif ch == "\\":
            if self.i + 1 >= len(text):
                raise Unparseable("trailing backslash")
            if text[self.i + 1] != "\n":  # backslash-newline continues the line
                self._add(text[self.i + 1])
            self.i += 2
        elif ch == "`" or text.startswith("$(", self.i):
            self._substitution()
        else:
            self._add(ch)
            self.i += 1

    def _double_quoted(self) -> None:
        text = self.text
        self.i += 1
        self._add("")
        while True:
            if self.i >= len(text):
                raise Unparseable("unterminated double quote")
            ch = text[self.i]
            if ch == '"':
                self.i += 1
                return
            if ch == "\\" and self.i + 1 < len(text) and text[self.i + 1] in '"\\$`\n':
                self._add(text[self.i + 1])
                self.i += 2
            elif ch == "`" or text.startswith("$(", self.i):
                self._substitution()
            else:
                self._add(ch)
                self.i += 1

    def _substitution(self) -> None:
        start = self.i
        if self.text[start] == "`":
            end = self.text.find("`", start + 1)
            if end < 0:
                raise Unparseable("unterminated backtick")
            body, self.i = self.text[start + 1 : end], end + 1
        else:
            body, self.i = _balanced(self.text, start + 2)
        _Lexer(body, self.out).run()
        self._add(self.text[start : self.i])

    def _redirection(self) -> None:
        text = self.text
        if text.startswith(("<(", ">("), self.i):  # process substitution
            body, self.i = _balanced(text, self.i + 2)
            _Lexer(body, self.out).run()
            self._add("<(…)")
            return
        if text.startswith("<<", self.i) and not text.startswith("<<<", self.i):
            raise Unparseable("heredocs are not supported")
        if self.word is not None and "".join(self.word).isdigit():
            self.word = None  # a file descriptor number such as the 2 of 2>file
        self._end_word()
        op_start = self.i
        while self.i < len(text) and text[self.i] in "<>&|":
            self.i += 1
        op = text[op_start : self.i]
        while self.i < len(text) and text[self.i] in _BLANKS:
            self.i += 1
        target = self._take_word()
        if op.endswith("&") and (target.isdigit() or target == "-"):
            return  # duplication of a descriptor (2>&1, >&-): no file
        if not target:
            raise Unparseable(f"redirection {op!r} without a target")
        if ">" in op:
            self.out.write_targets.append(target)

    def _take_word(self) -> str:
        """The redirection target starting at the cursor, parsed as a word of its own."""
        saved_words, saved_word = self.words, self.word
        self.words, self.word = [], None
        while self.i < len(self.text) and self.text[self.i] not in _BLANKS + _SEPARATORS + "<>":
            self._word_unit()
        target = "".join(self.word or [])
        self.words, self.word = saved_words, saved_word
        return target

    def _add(self, chars: str) -> None:
        if self.word is None:
            self.word = []
        self.word.append(chars)

    def _end_word(self) -> None:
        if self.word is not None:
            self.words.append("".join(self.word))
            self.word = None

    def _end_command(self) -> None:
        if self.words:
            self.out.commands.append(self.words)
        self.words = []


def _balanced(text: str, i: int) -> tuple[str, int]:
    """The body of a `$(`/`<(` group opened just before `i`, and the index after its `)`."""
    depth, start = 1, i
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "'\"":
            end = text.find(ch, i + 1)
            if end < 0:
                raise Unparseable("unterminated quote in substitution")
            i = end + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[start:i], i + 1
        i += 1
    raise Unparseable("unterminated command substitution")
