"""The course in more than one language: English, and a Korean edition (한국어판).

Every text a student or an instructor reads is written in English in the code and the notebooks and
rendered with :func:`t`, which looks it up in a gettext catalogue (``course/locale/<lang>/LC_MESSAGES/*.po``,
read with Babel; the English text is the msgid).  An entry that is missing, empty or marked fuzzy (its English
text changed since it was translated) falls back to the English text, as gettext does; tests/test_korean.py
fails on every such entry, so a release never ships one.

The edition is chosen by the environment variable COURSE_LANG (English when unset): ``course ... --lang ko``
and the Korean course folder's nbgrader_config.py set it for the grader and the kernels it starts, and each
notebook's first cell states the edition it belongs to (``edition("ko")``), so a student's kernel speaks the
notebook's language wherever it runs.  The catalogue is kept in step with the English sources by
``course i18n update`` (see :mod:`course.edition`).
"""
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

ENV = "COURSE_LANG"
ENGLISH = "en"
LANGUAGES = {"en": "English", "ko": "한국어"}
LOCALE = Path(__file__).resolve().parent / "locale"
DOMAIN = "course"  # the messages of course/ and nbgrader_config.py; each notebook has a domain of its own
HANGUL_FONTS = ("NanumGothic.ttf", "NanumGothicBold.ttf")  # shipped by the koreanize-matplotlib package
# Latin letters, digits and symbols as in the English edition, Hangul from NanumGothic (matplotlib falls back
# glyph by glyph).  Not the other way round: mathtext (tick labels such as 10^−3, and any $...$ text) draws with
# the first font only, and NanumGothic has no minus sign U+2212; so a translated label keeps Hangul out of $...$.
FONT_FAMILY = ["DejaVu Sans", "NanumGothic"]


def language():
    """The edition's language code: COURSE_LANG if it names a known language, else English."""
    lang = os.environ.get(ENV, "").strip() or ENGLISH
    return lang if lang in LANGUAGES else ENGLISH


def edition_of(root):
    """The language of the edition folder ``root``, or None for the English course folder."""
    root = Path(root)
    if root.name in LANGUAGES and root.name != ENGLISH and (root.parent / "source").is_dir():
        return root.name
    return None


def t(template, **fields):
    """``template`` (English, with ``{field}`` placeholders) in the edition's language, filled in with ``fields``."""
    return translate(template).format(**fields)


def N_(text):
    """Mark a text for the catalogue where it is defined, to be translated where it is shown (gettext_noop)."""
    return text


def translate(text, domain=DOMAIN, context=None, lang=None):
    """The translation of ``text`` in ``domain``, or ``text`` itself if there is no current one."""
    lang = lang or language()
    if lang == ENGLISH:
        return text
    return messages(lang, domain).get((context, text)) or text


def po_path(lang, domain):
    return LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"


@lru_cache(maxsize=None)
def messages(lang, domain):
    """{(msgctxt, msgid): msgstr} for the current (translated, not fuzzy) entries of one catalogue."""
    from babel.messages.pofile import read_po

    path = po_path(lang, domain)
    if not path.exists():
        return {}
    with open(path, "rb") as f:
        catalog = read_po(f)
    return {(m.context, m.id): m.string for m in catalog
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def edition(lang):
    """Make ``lang`` the language of this process and of the kernels it starts (a notebook's first cell calls
    this); a Korean edition also draws its figures with a Hangul font."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: known are {', '.join(LANGUAGES)}")
    os.environ[ENV] = lang
    if lang == "ko":
        use_hangul_font()


def hangul_font_files():
    """The Hangul font files shipped by koreanize-matplotlib, found without importing it (its import
    restyles matplotlib and warns about distutils)."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the Korean edition needs the koreanize-matplotlib package (see requirements.txt)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    return [folder / name for name in HANGUL_FONTS]


def use_hangul_font():
    """Register the package's NanumGothic with matplotlib (ahead of any copy the system has, so every machine
    draws the same) and make it the Hangul font of every figure drawn from now on."""
    import dataclasses

    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    ours = [str(path) for path in hangul_font_files()]
    for path in ours:
        if not any(f.fname == path for f in manager.ttflist):
            manager.addfont(path)
    entries = {f.fname: f for f in manager.ttflist if f.fname in ours}
    # NanumGothicBold.ttf declares weight 600: call it bold (700), or bold text logs a warning on stderr.
    first = [dataclasses.replace(entries[p], weight=700 if "Bold" in Path(p).name else entries[p].weight) for p in ours]
    manager.ttflist[:] = first + [f for f in manager.ttflist if f.fname not in ours]
    manager._findfont_cached.cache_clear()
    matplotlib.rcParams["font.family"] = FONT_FAMILY


if language() == "ko":  # a process started in the Korean edition draws Hangul from its first figure on
    use_hangul_font()
