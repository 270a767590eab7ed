"""Rebuild recorder/redact/data/ (the name lexicon and the ordinary-English allowlist).

Sources, all public and shipped in packages on PyPI (install them only to rebuild):
- given names and surnames: US Census Bureau, "Frequently Occurring Surnames and First Names
  from the 1990 Census" (public domain), as distributed in the `names` package 0.3.0 (MIT):
  every given name (male and female lists) and the surnames that cover 80 % of the population;
- ordinary English: the 60,000 most frequent English words of `wordfreq` 3.1 (data CC BY-SA
  4.0, Robyn Speer) that are either lower-case entries of Webster's Second International
  (`english-words` 2.0, web2 list, public domain), or frequent (Zipf >= 4: "okay", "email",
  "amazon") and no census name, or headwords of GCIDE (GPL-3.0, in `english-words`; used only
  to test membership, no entry is copied) that are at most a rare surname ("box").
  A name that is also an ordinary word ("grace", "mark", "bill") is thus in both files: the
  engine treats it as ambiguous and wants context.

Usage: python scripts/build_redact_lexicon.py PATH/TO/names-0.3.0/names
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "recorder" / "redact" / "data"


def _census(path: Path, cumulative_limit: float | None) -> list[str]:
    out: list[str] = []
    for line in path.read_text().splitlines():
        name, _freq, cumulative, _rank = line.split()
        if cumulative_limit is not None and float(cumulative) > cumulative_limit:
            break
        out.append(name.lower())
    return out


def main(argv: list[str]) -> int:
    from english_words import get_english_words_set
    from wordfreq import top_n_list, zipf_frequency

    census = Path(argv[0])
    given = sorted(set(_census(census / "dist.male.first", None) + _census(census / "dist.female.first", None)))
    ranked = _census(census / "dist.all.last", 80.0)  # most frequent first
    surnames = sorted(set(ranked))
    names = set(given) | set(surnames)
    common_surnames = set(ranked[:1000]) | set(given)
    web2 = get_english_words_set(["web2"], lower=False)
    gcide = get_english_words_set(["gcide"], lower=True)  # headwords, all capitalised there

    def is_ordinary(w: str) -> bool:
        if w in web2 or (w not in names and zipf_frequency(w, "en") >= 4.0):
            return True
        # a dictionary word that is only a rare surname ("box", "table") is an ordinary word
        return w in gcide and w not in common_surnames and zipf_frequency(w, "en") >= 3.5

    ordinary = sorted(w for w in top_n_list("en", 60000, wordlist="best")
                      if w.replace("'", "").isalpha() and is_ordinary(w))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "given_names.txt").write_text("\n".join(given) + "\n")
    (OUT / "surnames.txt").write_text("\n".join(surnames) + "\n")
    (OUT / "english_words.txt").write_text("\n".join(ordinary) + "\n")
    print(f"{len(given)} given names, {len(surnames)} surnames, {len(ordinary)} ordinary words")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
