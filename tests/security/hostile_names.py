"""The hostile-name corpus: text an enrolled host may send as a name, a path or a host name.

One list for every renderer test. Each entry tries to turn data into code in one of the languages
evict writes (Jinja/Ansible, PowerShell, sh, XML, CSV formulas, Rich markup) or to change what a
reader sees (bidi, C0 and C1 controls, NUL, separators, a very long string). Injected commands
all create ``MARKER`` in the working directory, so a test that runs the output there can tell.
"""

from __future__ import annotations

MARKER = "evict-pwned"
"""The file an injected command would create (relative: tests run the output in a temp dir)."""

TOUCH = f"touch {MARKER}"

HOSTILE: dict[str, str] = {
    # Jinja2 / Ansible: every delimiter, raw-block breakout, lookups and the override header.
    "jinja-expression": f"{{{{ lookup('ansible.builtin.pipe', '{TOUCH}') }}}}",
    "jinja-endraw": (
        "Small Office Security{% endraw %}"
        f'{{{{ lookup("ansible.builtin.pipe","{TOUCH}") }}}}{{% raw %}}'
    ),
    "jinja-query": f"{{{{ query('pipe', '{TOUCH}') }}}}",
    "jinja-q": f"{{{{ q('pipe', '{TOUCH}') }}}}",
    "jinja-statement": f"{{% set x = lookup('pipe', '{TOUCH}') %}}{{%- if true -%}}x{{% endif %}}",
    "jinja-comment": "{# a comment #} and {#- another -#}",
    "jinja-braces": "{{{ {% {# }}} %} #}",
    "ansible-options": "x executable=/bin/false chdir=/nonexistent creates=/etc/passwd",
    "jinja-override": (
        f"#jinja2:variable_start_string:'<<',variable_end_string:'>>'\n<<lookup('pipe','{TOUCH}')>>"
    ),
    # PowerShell: every quote form, sub-expressions, here-string terminators, escapes.
    "ps-quote": f"x'; New-Item {MARKER}; '",
    "ps-left-quote": f"x\u2018) | Out-Null; New-Item {MARKER}; @(\u2018",
    "ps-right-quote": f"x\u2019; New-Item {MARKER}; \u2019",
    "ps-low-quote": f"x\u201a; New-Item {MARKER}; \u201a",
    "ps-reversed-quote": f"x\u201b; New-Item {MARKER}; \u201b",
    "ps-double-quotes": f'x"; New-Item {MARKER}; "\u201c\u201d\u201e',
    "ps-subexpression": f"$(New-Item {MARKER})",
    "ps-array": f"@(New-Item {MARKER})",
    "ps-variable": "$env:USERNAME ${function:prompt} $true",
    "ps-backtick": "x`'`n`$(New-Item x)`",
    "ps-here-string": f"x\n'@\nNew-Item {MARKER}\n@'\n\"@\n",
    "ps-comment": "x <# block #> # line",
    # sh: substitutions, separators, redirections, line breaks.
    "sh-substitution": f"$({TOUCH})",
    "sh-backticks": f"`{TOUCH}`",
    "sh-quote": f"x'; {TOUCH}; '",
    "sh-separators": f"x; {TOUCH} | {TOUCH} && {TOUCH} || {TOUCH} & {TOUCH}",
    "sh-redirect": f"x > {MARKER} < /dev/null 2>&1",
    "sh-newline": f"x\n{TOUCH}\n",
    "sh-carriage-return": f"x\r{TOUCH}\r",
    "sh-glob-and-tilde": "~root/* ?[a-z] {a,b} $HOME ${IFS}",
    "sh-dash": "--help -rf",
    # What a reader sees: bidi, controls, separators, NUL.
    "bidi-override": "Kaspersky\u202egpj.exe",
    "bidi-isolates": (
        "\u2066evil\u2069 \u2067x\u2069 \u2068y\u2069 \u200e\u200f\u061c \u202a\u202b\u202c\u202d"
    ),
    "c1-controls": "a\x85b\x9b31mred\x9dc",
    "c0-escape": "a\x1b[31mred\x1b[0m\x07\x08\x0b\x0c",
    "nul": "a\x00b",
    "separators": "a\u2028b\u2029c",
    "bom": "\ufeffhidden",
    # Rich markup.
    "rich-markup": "[bold red]alarm[/bold red] [link=https://evil.example]click[/link] :warning:",
    "rich-escape": "\\[not a tag] trailing backslash \\",
    # CSV formula prefixes.
    "csv-equals": '=HYPERLINK("https://evil.example","x")',
    "csv-plus": "+cmd|' /C calc'!A0",
    "csv-minus": "-2+3",
    "csv-at": "@SUM(A1:A9)",
    "csv-tab": "\t=1+1",
    "csv-cr": "\r=1+1",
    # XML and HTML.
    "xml-specials": '<a href="x">&amp;</a> \'q\' "dq" <script>alert(1)</script>',
    "xml-cdata-end": "]]> --> <!-- -- <![CDATA[",
    # Size.
    "long": "K" * 100_000,
}
"""Corpus entries by id."""

UNSAFE_SHOWN = (
    {chr(c) for c in range(0x20) if chr(c) not in "\t\n"}
    | {chr(c) for c in range(0x7F, 0xA0)}
    | set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    | {"\u2028", "\u2029", "\ufeff"}
)
"""Characters no text output may show raw: C0 (but tab and line feed), DEL, C1, bidi controls,
line and paragraph separators, a byte order mark in mid-text."""


def raw_unsafe(text: str) -> list[str]:
    """The characters of :data:`UNSAFE_SHOWN` in ``text``, as code points."""
    return sorted({f"U+{ord(c):04X}" for c in text if c in UNSAFE_SHOWN})
