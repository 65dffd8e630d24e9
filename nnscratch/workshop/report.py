"""A report as a list of blocks, written twice: as Markdown and as HTML (same text, same PNGs).

The HTML side escapes everything it is given: text with ``html.escape(text, quote=True)``, every
attribute value too, and a link whose URL runs script (``javascript:``, ``vbscript:``, ``data:``,
however cased or spaced) stays plain text.  The report's text contains only what the workshop's
own code writes, but a data set name, a path or an exception message can carry anything.
"""
import html
import re

import numpy as np


class Report:
    """Blocks of content: headings, paragraphs, code, tables and images (with a caption).

    Paragraphs, headings, table cells and captions may use a little Markdown: ```code```, ``**bold**``,
    ``*italic*`` and ``[text](url)``.
    """

    def __init__(self, title):
        self.title = title
        self.blocks = []

    def h(self, level, text):
        self.blocks.append(("h", level, text))

    def p(self, text):
        self.blocks.append(("p", text))

    def code(self, text):
        self.blocks.append(("code", text.rstrip("\n")))

    def table(self, header, rows):
        self.blocks.append(("table", [str(h) for h in header], [[_cell(c) for c in r] for r in rows]))

    def image(self, name, caption):
        self.blocks.append(("image", name, caption))

    def markdown(self):
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if b[0] == "h":
                out += ["#" * b[1] + " " + b[2], ""]
            elif b[0] == "p":
                out += [b[1], ""]
            elif b[0] == "code":
                out += ["```", b[1], "```", ""]
            elif b[0] == "table":
                out.append("| " + " | ".join(b[1]) + " |")
                out.append("|" + "|".join("---" for _ in b[1]) + "|")
                out += ["| " + " | ".join(r) + " |" for r in b[2]]
                out.append("")
            elif b[0] == "image":
                out += [f"![{b[2]}]({b[1]})", "", f"*{b[2]}*", ""]
        return "\n".join(out)

    def html(self):
        style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
                 "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;"
                 "text-align:right}th{background:#eee}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;"
                 "font-size:12px;line-height:1.2}img{max-width:100%}figcaption{font-style:italic;color:#444}")
        title = _escape(self.title)
        out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{title}</title>",
               f"<style>{style}</style></head><body>", f"<h1>{title}</h1>"]
        for b in self.blocks:
            if b[0] == "h":
                level = int(b[1])
                out.append(f"<h{level}>{inline_html(b[2])}</h{level}>")
            elif b[0] == "p":
                out.append(f"<p>{inline_html(b[1])}</p>")
            elif b[0] == "code":
                out.append(f"<pre>{_escape(b[1])}</pre>")
            elif b[0] == "table":
                out.append("<table><tr>" + "".join(f"<th>{inline_html(h)}</th>" for h in b[1]) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{inline_html(c)}</td>" for c in r) + "</tr>" for r in b[2]]
                out.append("</table>")
            elif b[0] == "image":
                src = safe_url(b[1])
                img = f"<img src='{src}' alt='{_escape(b[2])}'>" if src is not None else _escape(b[1])
                out.append(f"<figure>{img}<figcaption>{inline_html(b[2])}</figcaption></figure>")
        out.append("</body></html>")
        return "\n".join(out)


# ------------------------------------------------------------------------------------ inline Markdown
_UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:")
# a `code` span, or a [text](url) link; what lies between them gets **bold** and *italic*
_TOKEN = re.compile(r"`(?P<code>[^`]+)`|\[(?P<text>[^\]]+)\]\((?P<url>[^)]+)\)")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])")


def _escape(text):
    """``&``, ``<``, ``>``, ``"`` and ``'`` as HTML entities: safe in text and in a quoted attribute."""
    return html.escape(str(text), quote=True)


def safe_url(url):
    """``url`` escaped for an HTML attribute, or None if it would run script.

    Browsers drop ASCII whitespace and control characters inside a URL's scheme and ignore its case,
    so ``' JaVa\\tScRiPt:alert(1)'`` is ``javascript:``: those characters are removed before the check.
    """
    scheme = "".join(ch for ch in url if ord(ch) > 0x20 and ch != "\x7f").lower()
    if scheme.startswith(_UNSAFE_SCHEMES):
        return None
    return _escape(url.strip())


def _emphasis(text):
    text = _escape(text)
    text = _BOLD.sub(r"<b>\1</b>", text)
    return _ITALIC.sub(r"<i>\1</i>", text)


def inline_html(text):
    """The little Markdown the report uses, as HTML: ```code```, ``**bold**``, ``*italic*``, ``[text](url)``.

    Everything is escaped (``quote=True``); a link to a ``javascript:``/``vbscript:``/``data:`` URL is
    rendered as its plain text.  Markdown inside a code span stays literal.
    """
    out, pos = [], 0
    for m in _TOKEN.finditer(text):
        out.append(_emphasis(text[pos:m.start()]))
        if m.group("code") is not None:
            out.append(f"<code>{_escape(m.group('code'))}</code>")
        else:
            href = safe_url(m.group("url"))
            out.append(f"<a href='{href}'>{_emphasis(m.group('text'))}</a>" if href is not None
                       else _escape(m.group(0)))
        pos = m.end()
    out.append(_emphasis(text[pos:]))
    return "".join(out)


# ------------------------------------------------------------------------------------ numbers as text
def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def seconds(x):
    return f"{x:.2f}"


def epochs(n):
    """``'1 epoch'``, ``'5 epochs'``."""
    return f"{n} epoch" + ("s" if n != 1 else "")


def matrix_text(mat):
    """The workshop's ``matprint``: a matrix with right-aligned columns."""
    mat = np.asarray(mat)
    widths = [max(len(f"{v:g}") for v in col) for col in mat.T]
    return "\n".join("  ".join(f"{v:g}".rjust(w) for v, w in zip(row, widths)) for row in mat)
