"""The order of languages in per-language tables and plots: by language family.

English first, then the other Indo-European languages by branch, then the other families in
alphabetical order (families as Glottolog and WALS group the 40 XTREME languages); within a
branch or family, by ISO 639-1 code. A language not listed here comes last.
"""

from __future__ import annotations

from collections.abc import Iterable

FAMILIES: dict[str, tuple[str, ...]] = {
    "Indo-European, Germanic": ("en", "af", "de", "nl"),
    "Indo-European, Romance": ("es", "fr", "it", "pt"),
    "Indo-European, Slavic": ("bg", "ru"),
    "Indo-European, Greek": ("el",),
    "Indo-European, Indo-Iranian": ("bn", "fa", "hi", "mr", "ur"),
    "Afro-Asiatic": ("ar", "he"),
    "Austroasiatic": ("vi",),
    "Austronesian": ("id", "jv", "ms", "tl"),
    "Basque (isolate)": ("eu",),
    "Dravidian": ("ml", "ta", "te"),
    "Japonic": ("ja",),
    "Kartvelian": ("ka",),
    "Koreanic": ("ko",),
    "Kra-Dai": ("th",),
    "Niger-Congo": ("sw", "yo"),
    "Sino-Tibetan": ("my", "zh"),
    "Turkic": ("kk", "tr"),
    "Uralic": ("et", "fi", "hu"),
}
"""Family (with the Indo-European branch) -> its XTREME languages, in display order."""

_POSITION = {lang: i for i, lang in enumerate(x for langs in FAMILIES.values() for x in langs)}
ORDER_NOTE = "languages ordered by family (English, then Indo-European by branch, then A-Z)"


def family_order(languages: Iterable[str]) -> list[str]:
    """``languages`` in family order; unknown codes last, alphabetically."""
    return sorted(set(languages), key=lambda lang: (_POSITION.get(lang, len(_POSITION)), lang))


def family_of(lang: str) -> str:
    """The family (or branch) of ``lang``; "other" when it is not listed."""
    return next((name for name, langs in FAMILIES.items() if lang in langs), "other")
