"""Generate the tiny multilingual NLI, paraphrase, MLM, retrieval and multiple-choice fixture data
(and the XNLI-MT translations of the tiny MNLI training set).

Run ``python -m fairseq_stilts.tiny.make_data``; each run rewrites ``data/`` byte-identically.
"""

import json
import random
import re
from pathlib import Path

SEED = 20240521
LANGS = ("en", "de", "es", "fr")
OUT_DIR = Path(__file__).resolve().parent / "data"
NLI_LABELS = ("entailment", "neutral", "contradiction")
GENRES = ("fiction", "government", "slate", "telephone", "travel")

# Names are shared by all languages; consecutive blocks of 12/6/6 give train/dev/test.
NAMES = (
    "Anna:f Ben:m Clara:f David:m Elena:f Frank:m Greta:f Hugo:m Irene:f Jan:m Lena:f Karl:m "
    "Nora:f Marco:m Olga:f Paul:m Rosa:f Tom:m Sara:f Leo:m Vera:f Peter:m Julia:f Simon:m"
)
GENDER = dict(item.split(":") for item in NAMES.split())

# Vocabulary: concepts separated by ";" or newlines, languages en|de|es|fr, sub-fields by ":".
# Plural nouns (es/fr: noun:gender).
NOUNS = """apples|Äpfel|manzanas:f|pommes:f; books|Bücher|libros:m|livres:m
cups|Tassen|tazas:f|tasses:f; balls|Bälle|pelotas:f|balles:f
hats|Hüte|sombreros:m|chapeaux:m; pens|Stifte|bolígrafos:m|stylos:m
boxes|Kisten|cajas:f|boîtes:f; chairs|Stühle|sillas:f|chaises:f"""
# de: attributive:predicative, es/fr: masculine:feminine plural.
COLOURS = """red|rote:rot|rojos:rojas|rouges:rouges; blue|blaue:blau|azules:azules|bleus:bleues
green|grüne:grün|verdes:verdes|verts:vertes; black|schwarze:schwarz|negros:negras|noirs:noires
white|weiße:weiß|blancos:blancas|blancs:blanches
yellow|gelbe:gelb|amarillos:amarillas|jaunes:jaunes"""
PLACES = """in the kitchen|in der Küche|en la cocina|dans la cuisine
in the garden|im Garten|en el jardín|dans le jardin
in the office|im Büro|en la oficina|dans le bureau; in the car|im Auto|en el coche|dans la voiture
in the living room|im Wohnzimmer|en el salón|dans le salon
in the cellar|im Keller|en el sótano|dans la cave"""
# The first seven entries are days (also used with the past tense); the rest are habitual.
TIMES = """on Monday|am Montag|el lunes|lundi; on Tuesday|am Dienstag|el martes|mardi
on Wednesday|am Mittwoch|el miércoles|mercredi; on Thursday|am Donnerstag|el jueves|jeudi
on Friday|am Freitag|el viernes|vendredi; on Saturday|am Samstag|el sábado|samedi
on Sunday|am Sonntag|el domingo|dimanche; every morning|jeden Morgen|cada mañana|chaque matin
in the evening|am Abend|por la noche|le soir"""
# en: 3sg:participle, de: finite:particle:participle, es/fr: 3sg:masculine participle.
VERBS = """calls:called|ruft:an:angerufen|llama:llamado|appelle:appelé
invites:invited|lädt:ein:eingeladen|invita:invitado|invite:invité
greets:greeted|begrüßt::begrüßt|saluda:saludado|salue:salué
sees:seen|sieht::gesehen|ve:visto|voit:vu; pays:paid|bezahlt::bezahlt|paga:pagado|paie:payé
wakes:woken|weckt::geweckt|despierta:despertado|réveille:réveillé
photographs:photographed|fotografiert::fotografiert|fotografía:fotografiado|photographie:photographié"""
# Things handed over: de accusative:nominative, es/fr noun:gender.
THINGS = """book|das Buch:das Buch|el libro:m|le livre:m
ball|den Ball:der Ball|la pelota:f|la balle:f; cup|die Tasse:die Tasse|la taza:f|la tasse:f
hat|den Hut:der Hut|el sombrero:m|le chapeau:m
key|den Schlüssel:der Schlüssel|la llave:f|la clé:f
letter|den Brief:der Brief|la carta:f|la lettre:f"""

# Templates: "TAG en | de" then an indented "es | fr" line.  P: premise; E/N/C: entailed,
# neutral and contradicting hypotheses; V/G: interchangeable forms of a two-person event.
NLI_TEMPLATES = """
P {n} has {k} {col} {obj} {place}. | {n} hat {k} {col} {obj} {place}.
  {n} tiene {k} {obj} {col} {place}. | {n} a {k} {obj} {col} {place}.
P {Place}, {n} has {k} {col} {obj}. | {Place} hat {n} {k} {col} {obj}.
  {Place}, {n} tiene {k} {obj} {col}. | {Place}, {n} a {k} {obj} {col}.
E {n} has {obj} {place}. | {n} hat {obj} {place}.
  {n} tiene {obj} {place}. | {n} a des {obj} {place}.
E {n} has some {col} {obj}. | {n} hat einige {col} {obj}.
  {n} tiene {some} {obj} {col}. | {n} a quelques {obj} {col}.
E There are {obj} {place}. | {Place} gibt es {obj}.
  Hay {obj} {place}. | Il y a des {obj} {place}.
E The {obj} {place} are {pcol}. | Die {obj} {place} sind {pcol}.
  {Art} {obj} {place} son {pcol}. | Les {obj} {place} sont {pcol}.
E {n} has at least {k} {obj}. | {n} hat mindestens {k} {obj}.
  {n} tiene al menos {k} {obj}. | {n} a au moins {k} {obj}.
C {n} has no {obj} {place}. | {n} hat keine {obj} {place}.
  {n} no tiene {obj} {place}. | {n} n'a pas de {obj} {place}.
C There are no {obj} {place}. | {Place} gibt es keine {obj}.
  No hay {obj} {place}. | Il n'y a pas de {obj} {place}.
C The {obj} {place} are {pcol2}. | Die {obj} {place} sind {pcol2}.
  {Art} {obj} {place} son {pcol2}. | Les {obj} {place} sont {pcol2}.
C {n} has only {k2} {obj}. | {n} hat nur {k2} {obj}.
  {n} solo tiene {k2} {obj}. | {n} n'a que {k2} {obj}.
C All of {n}'s {obj} are {place2}. | Alle {obj} von {n} sind {place2}.
  {All} {obj} de {n} están {place2}. | {All} {obj} {of_n} sont {place2}.
N {n} likes {obj} very much. | {n} mag {obj} sehr.
  A {n} le gustan mucho {art} {obj}. | {n} aime beaucoup les {obj}.
N {n} also has {k2} {col3} {obj2}. | {n} hat auch {k2} {col3} {obj2}.
  {n} también tiene {k2} {obj2} {col3}. | {n} a aussi {k2} {obj2} {col3}.
N {n} bought the {obj} {day}. | {n} hat die {obj} {day} gekauft.
  {n} compró {art} {obj} {day}. | {n} a acheté les {obj} {day}.
N {m} is {place} today. | {m} ist heute {place}.
  {m} está {place} hoy. | {m} est {place} aujourd'hui.
N {m} has no {obj} {place}. | {m} hat keine {obj} {place}.
  {m} no tiene {obj} {place}. | {m} n'a pas de {obj} {place}.
"""
PARA_TEMPLATES = """
V {a} {v} {b} {time}. | {a} {v} {b} {time}{part}.
  {a} {v} a {b} {time}. | {a} {v} {b} {time}.
V {Time}, {a} {v} {b}. | {Time} {v} {a} {b}{part}.
  {Time}, {a} {v} a {b}. | {Time}, {a} {v} {b}.
V {b} is {pp} by {a} {time}. | {b} wird {time} von {a} {pp}.
  {b} es {pp} por {a} {time}. | {b} est {pp} par {a} {time}.
V {Time}, {b} is {pp} by {a}. | {Time} wird {b} von {a} {pp}.
  {Time}, {b} es {pp} por {a}. | {Time}, {b} est {pp} par {a}.
G {a} gives {b} {o} {time}. | {a} gibt {b} {time} {o}.
  {a} le da {o} a {b} {time}. | {a} donne {o} à {b} {time}.
G {a} gives {o} to {b} {time}. | {Onom} wird {b} {time} von {a} gegeben.
  {a} le da a {b} {o} {time}. | {Onom} est {ppo} à {b} par {a} {time}.
G {Time}, {a} gives {b} {o}. | {Time} gibt {a} {b} {o}.
  {Time}, {a} le da {o} a {b}. | {Time}, {a} donne {o} à {b}.
"""
# English part-of-speech tags for the MNLI parse columns (colours and nouns are added below).
TAG_TEXT = """has/VBZ is/VBZ likes/VBZ are/VBP bought/VBD the/DT some/DT no/DT all/DT in/IN of/IN
at/IN on/IN there/EX also/RB only/RB very/RB much/RB least/JJS today/NN 's/POS ./. ,/,"""

Template = tuple[str, ...]


def table(text: str) -> list[list[tuple[str, ...]]]:
    """Parse a vocabulary block into per-concept lists of per-language field tuples."""
    entries = [e.strip() for e in re.split(r"[;\n]", text) if e.strip()]
    return [[tuple(c.split(":")) for c in e.split("|")] for e in entries]


def templates(text: str) -> dict[str, list[Template]]:
    """Parse a template block into ``{tag: [(en, de, es, fr), ...]}``."""
    lines = text.strip("\n").splitlines()
    out: dict[str, list[Template]] = {}
    for first, second in zip(lines[::2], lines[1::2], strict=True):
        assert second.startswith("  "), second
        tag, rest = first.split(" ", 1)
        out.setdefault(tag, []).append(tuple(t.strip() for t in f"{rest}|{second}".split("|")))
    return out


NOUN_T, COLOUR_T, PLACE_T = table(NOUNS), table(COLOURS), table(PLACES)
TIME_T, VERB_T, THING_T = table(TIMES), table(VERBS), table(THINGS)
NLI_T, PARA_T = templates(NLI_TEMPLATES), templates(PARA_TEMPLATES)
TAGS = dict(t.split("/") for t in TAG_TEXT.split())
TAGS |= {row[0][0]: "JJ" for row in COLOUR_T} | {row[0][0]: "NNS" for row in NOUN_T}


def colour(ci: int, li: int, gender: str, attributive: bool) -> str:
    """Return colour ``ci`` in language ``li``, agreeing with a plural noun of ``gender``."""
    forms = COLOUR_T[ci][li]
    if li == 1:
        return forms[0 if attributive else 1]
    return forms[min(gender == "f", len(forms) - 1)]


def slots(x: dict, li: int) -> dict[str, str]:
    """Compute every template slot for instance ``x`` in language index ``li``."""
    s: dict[str, str] = {}
    if "obj" in x:  # an NLI world fact
        noun, g = (NOUN_T[x["obj"]][li] + ("m",))[:2]
        noun2, g2 = (NOUN_T[x["obj2"]][li] + ("m",))[:2]
        fem = g == "f"
        every = {2: ("todos los", "todas las"), 3: ("tous les", "toutes les")}.get(li, ("", ""))
        s.update(n=x["n"], m=x["m"], k=str(x["k"]), k2=str(x["k2"]), obj=noun, obj2=noun2)
        s.update(col=colour(x["col"], li, g, True), pcol=colour(x["col"], li, g, False))
        s.update(pcol2=colour(x["col2"], li, g, False), col3=colour(x["col2"], li, g2, True))
        s.update(place=PLACE_T[x["place"]][li][0], place2=PLACE_T[x["place2"]][li][0])
        s.update(day=TIME_T[x["day"]][li][0], art="las" if fem else "los", all=every[fem])
        s.update(some="algunas" if fem else "algunos")
        s["of_n"] = ("d'" if li == 3 and x["n"][0] in "AEIOUH" else "de ") + x["n"]
    else:  # a two-person event; passive participles agree with the patient ``b``
        s.update(a=x["a"], b=x["b"], time=TIME_T[x["time"]][li][0])
        fem_b = GENDER[x["b"]] == "f"
        if "verb" in x:
            forms = VERB_T[x["verb"]][li]
            pp = forms[-1]
            pp = pp[:-1] + "a" if fem_b and li == 2 else pp + "e" if fem_b and li == 3 else pp
            part = " " + forms[1] if len(forms) == 3 and forms[1] else ""
            s.update(v=forms[0], pp=pp, part=part)
        else:
            forms = THING_T[x["thing"]][li]
            s["o"] = "the " + forms[0] if li == 0 else forms[0]
            s["onom"] = forms[1] if li == 1 else s["o"]
            s["ppo"] = "donnée" if forms[-1] == "f" else "donné"
    s.update({key[0].upper() + key[1:]: val[:1].upper() + val[1:] for key, val in s.items()})
    return s


def render(tpl: Template, x: dict) -> list[str]:
    """Render one template for instance ``x`` in all four languages."""
    return [tpl[li].format(**slots(x, li)) for li in range(len(LANGS))]


def nli_instance(rng: random.Random, names: list[str]) -> dict:
    """Draw a world fact: who has how many things of which colour where (plus distractors)."""
    n, m = rng.sample(names, 2)
    obj, obj2 = rng.sample(range(len(NOUN_T)), 2)
    col, col2 = rng.sample(range(len(COLOUR_T)), 2)
    place, place2 = rng.sample(range(len(PLACE_T)), 2)
    k = rng.randint(3, 9)
    x = dict(n=n, m=m, obj=obj, obj2=obj2, col=col, col2=col2, place=place, place2=place2, k=k)
    return x | dict(k2=rng.randint(2, k - 1), day=rng.randrange(7))


def para_instance(rng: random.Random, names: list[str], kind: str) -> dict:
    """Draw a two-person event (``V``: a transitive verb, ``G``: giving a thing)."""
    a, b = rng.sample(names, 2)
    x = dict(a=a, b=b, time=rng.randrange(len(TIME_T)))
    key, size = ("verb", len(VERB_T)) if kind == "V" else ("thing", len(THING_T))
    return x | {key: rng.randrange(size)}


def nli_items(rng: random.Random, names: list[str], count: int) -> list[tuple[list, str]]:
    """Make NLI items: (per-language (premise, hypothesis) pairs, label)."""
    items, labels = [], [NLI_LABELS[i % 3] for i in range(count)]
    rng.shuffle(labels)
    for label in labels:
        x = nli_instance(rng, names)
        premise = render(rng.choice(NLI_T["P"]), x)
        hypothesis = render(rng.choice(NLI_T[label[0].upper()]), x)
        items.append((list(zip(premise, hypothesis, strict=True)), label))
    return items


def para_items(rng: random.Random, names: list[str], count: int) -> list[tuple[list, str]]:
    """Make PAWS-style items: reordered paraphrases (1) vs swapped roles or times (0)."""
    items, labels = [], ["10"[i % 2] for i in range(count)]
    rng.shuffle(labels)
    for label in labels:
        kind = rng.choice("VVG")
        x = para_instance(rng, names, kind)
        i, j = rng.sample(range(len(PARA_T[kind])), 2)
        y = dict(x)
        if label == "0" and rng.random() < 0.75:
            y["a"], y["b"] = x["b"], x["a"]
        elif label == "0":
            y["time"] = rng.choice([t for t in range(len(TIME_T)) if t != x["time"]])
        pairs = zip(render(PARA_T[kind][i], x), render(PARA_T[kind][j], y), strict=True)
        items.append((list(pairs), label))
    return items


def mlm_lines(rng: random.Random, names: list[str], count: int) -> list[list[str]]:
    """Draw ``count`` distinct parallel sentences from all templates."""
    seen: set[str] = set()
    out: list[list[str]] = []
    while len(out) < count:
        if rng.random() < 0.6:
            sents = render(rng.choice(NLI_T[rng.choice("PPENC")]), nli_instance(rng, names))
        else:
            kind = rng.choice("VVG")
            sents = render(rng.choice(PARA_T[kind]), para_instance(rng, names, kind))
        if sents[0] not in seen:
            seen.add(sents[0])
            out.append(sents)
    return out


def parses(sentence: str) -> tuple[str, str]:
    """Return a right-branching binary parse and a flat PTB-style parse of an English sentence."""
    tokens = re.findall(r"'s|\w+|[^\w\s]", sentence)
    tree = tokens[-2]
    for token in reversed(tokens[:-2]):
        tree = f"( {token} {tree} )"

    def tag(t: str) -> str:
        return TAGS.get(t.lower()) or ("CD" if t.isdigit() else "NNP" if t[0].isupper() else "NN")

    flat = " ".join(f"({tag(t)} {t})" for t in tokens)
    return f"( {tree} {tokens[-1]} )", f"(ROOT (S {flat}))"


def mnli_rows(rng: random.Random, items: list, n_labels: int) -> list[list[str]]:
    """Format English NLI items as GLUE MNLI rows, header first."""
    head = "index promptID pairID genre sentence1_binary_parse sentence2_binary_parse"
    head += " sentence1_parse sentence2_parse sentence1 sentence2"
    labels = [f"label{i}" for i in range(1, n_labels + 1)]
    rows = [[*head.split(), *labels, "gold_label"]]
    for idx, (pairs, label) in enumerate(items):
        s1, s2 = pairs[0]
        (b1, p1), (b2, p2) = parses(s1), parses(s2)
        prompt = str(31000 + 7 * idx)
        row = [str(idx), prompt, prompt + label[0], rng.choice(GENRES), b1, b2, p1, p2, s1, s2]
        rows.append(row + [label] * (n_labels + 1))
    return rows


def write(path: Path, rows: list[list[str]]) -> None:
    """Write tab-separated rows as UTF-8 with LF line endings."""
    for row in rows:
        assert all(cell and "\t" not in cell and "\n" not in cell for cell in row), row
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join("\t".join(row) + "\n" for row in rows).encode("utf-8"))


def main() -> None:
    """Generate every fixture file under ``OUT_DIR``."""
    names = list(GENDER)
    train, dev, test = names[:12], names[12:18], names[18:]
    mnli_train = nli_items(random.Random(SEED + 2), train, 240)
    write(OUT_DIR / "mnli/train.tsv", mnli_rows(random.Random(SEED + 1), mnli_train, 1))
    mnli_dev = nli_items(random.Random(SEED + 4), dev, 45)
    write(OUT_DIR / "mnli/dev_matched.tsv", mnli_rows(random.Random(SEED + 3), mnli_dev, 5))
    rename = {"contradiction": "contradictory"}  # XTREME's English XNLI train spelling, XNLI-MT's
    for li, lang in enumerate(LANGS[1:], start=1):  # XNLI-MT's translations of the MNLI train
        rows = [[*p[li], rename.get(lab, lab)] for p, lab in mnli_train]
        path = OUT_DIR / f"mnli/XNLI-MT-1.0/multinli/multinli.train.{lang}.tsv"
        write(path, [["premise", "hypo", "label"], *rows])
    xnli_train = nli_items(random.Random(SEED + 5), train, 180)
    write(OUT_DIR / "xnli/train-en.tsv", [[*p[0], rename.get(lab, lab)] for p, lab in xnli_train])
    paws_train = para_items(random.Random(SEED + 6), train, 120)
    write(OUT_DIR / "pawsx/train-en.tsv", [[*p[0], lab] for p, lab in paws_train])
    parallel: dict[str, list[list[str]]] = {}
    for split, split_names, offset in (("dev", dev, 10), ("test", test, 20)):
        xnli = nli_items(random.Random(SEED + offset), split_names, 30)
        paws = para_items(random.Random(SEED + offset + 1), split_names, 20)
        parallel[split] = unique_parallel(
            [list(s) for p, _ in xnli + paws for s in zip(*p, strict=True)]
        )
        for li, lang in enumerate(LANGS):
            write(OUT_DIR / f"xnli/{split}-{lang}.tsv", [[*p[li], lab] for p, lab in xnli])
            write(OUT_DIR / f"pawsx/{split}-{lang}.tsv", [[*p[li], lab] for p, lab in paws])
    mlm = mlm_lines(random.Random(SEED + 30), names, 600)
    for li, lang in enumerate(LANGS):
        write(OUT_DIR / f"mlm/{lang}.txt", [[sents[li]] for sents in mlm])
    write_tatoeba(parallel["dev"] + parallel["test"])
    for split, offset in (("dev", 40), ("test", 50)):
        write_bucc(split, parallel[split], mlm, offset)
    write_multiple_choice()
    write_tagging()


def unique_parallel(groups: list[list[str]]) -> list[list[str]]:
    """Per-language sentence groups (one per language), dropping any text seen in any language."""
    seen: set[str] = set()
    out = []
    for sents in groups:
        if not seen & set(sents):
            seen.update(sents)
            out.append(sents)
    return out


def write_tatoeba(pool: list[list[str]], count: int = 40) -> None:
    """Tatoeba layout: ``<l>-en.<l>`` and ``<l>-en.en``, line i translating line i."""
    for li, lang in enumerate(LANGS[1:], start=1):
        chosen = random.Random(SEED + 60 + li).sample(pool, count)
        write(OUT_DIR / f"tatoeba/{lang}-en.{lang}", [[sents[li]] for sents in chosen])
        write(OUT_DIR / f"tatoeba/{lang}-en.en", [[sents[0]] for sents in chosen])


def write_bucc(split: str, pool: list[list[str]], mlm: list[list[str]], offset: int) -> None:
    """BUCC layout for de and fr: ``id<TAB>sentence`` per side and ``id_l<TAB>id_en`` gold pairs.

    Each side holds 30 gold sentences and 20 distractors from the MLM text whose translations are
    not on the other side; one distractor occurs twice on the non-English side (two ids, one
    text), which the BUCC duplicate rule drops from the candidates.
    """
    used = {s for sents in pool for s in sents}
    for li, lang in ((1, "de"), (3, "fr")):
        rng = random.Random(SEED + offset + li)
        gold = rng.sample(pool, 30)
        extra = rng.sample([sents for sents in mlm if not used & set(sents)], 40)
        foreign = [(g[li], k) for k, g in enumerate(gold)] + [(x[li], None) for x in extra[:20]]
        english = [(g[0], k) for k, g in enumerate(gold)] + [(x[0], None) for x in extra[20:]]
        foreign.append((extra[0][li], None))
        sides = []
        for side, code in ((foreign, lang), (english, "en")):
            rng.shuffle(side)
            numbers = sorted(rng.sample(range(1000), len(side)))
            sides.append(
                [(f"{code}-{n:06d}", text, k) for n, (text, k) in zip(numbers, side, strict=True)]
            )
            rows = [[sid, text] for sid, text, _ in sides[-1]]
            write(OUT_DIR / f"bucc/{lang}-en.{split}.{code}", rows)
        ids = [{k: sid for sid, _, k in side if k is not None} for side in sides]
        pairs = [[ids[0][k], ids[1][k]] for k in range(len(gold))]
        write(OUT_DIR / f"bucc/{lang}-en.{split}.gold", sorted(pairs))


# Multiple choice (English only, real field names). The rule: the right choice repeats what the
# context says (the colour and things for HellaSwag and CommonsenseQA, the place for Cosmos QA);
# the wrong ones name something else.
def _english(text: str) -> list[str]:
    return [row[0][0] for row in table(text)]


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    path.write_bytes("".join(lines).encode("utf-8"))


def _scene(rng: random.Random, names: list[str]) -> tuple[str, int, int, int]:
    return rng.choice(names), rng.randrange(6), rng.randrange(8), rng.randrange(6)


def _others(rng: random.Random, right: int, size: int, count: int) -> list[int]:
    return rng.sample([i for i in range(size) if i != right], count)


def _place_choices(rng: random.Random, right: int, n: int) -> tuple[list[int], int]:
    order = [right, *_others(rng, right, len(PLACE_EN), n - 1)]
    rng.shuffle(order)
    return order, order.index(right)


def hellaswag_records(rng: random.Random, names: list[str], count: int, split: str) -> list[dict]:
    records = []
    for ind in range(count):
        name, ci, ni, pi = _scene(rng, names)
        things = [
            (ci, ni),
            *((c, n) for c, n in zip(_others(rng, ci, 6, 3), _others(rng, ni, 8, 3), strict=True)),
        ]
        rng.shuffle(things)
        ctx_a = f"{name} buys {COLOUR_EN[ci]} {NOUN_EN[ni]} {PLACE_EN[pi]}."
        ctx_b = f"{name} then puts"
        records.append(
            {
                "activity_label": "Shopping",
                "ctx": f"{ctx_a} {ctx_b}",
                "ctx_a": ctx_a,
                "ctx_b": ctx_b,
                "endings": [f"the {COLOUR_EN[c]} {NOUN_EN[n]} on the table." for c, n in things],
                "ind": ind,
                "label": things.index((ci, ni)),
                "source_id": f"tiny~{split}~{ind}",
                "split": split,
                "split_type": "indomain",
            }
        )
    return records


def commonsenseqa_records(rng: random.Random, names: list[str], count: int) -> list[dict]:
    records = []
    for _ in range(count):
        name, ci, ni, pi = _scene(rng, names)
        order = [ci, *_others(rng, ci, 6, 4)]
        rng.shuffle(order)
        records.append(
            {
                "answerKey": "ABCDE"[order.index(ci)],
                "id": f"{rng.getrandbits(64):016x}",
                "question": {
                    "question_concept": NOUN_EN[ni],
                    "choices": [
                        {"label": "ABCDE"[i], "text": COLOUR_EN[c]} for i, c in enumerate(order)
                    ],
                    "stem": f"{name} has {COLOUR_EN[ci]} {NOUN_EN[ni]} {PLACE_EN[pi]}. What colour are the {NOUN_EN[ni]}?",
                },
            }
        )
    return records


def cosmosqa_records(rng: random.Random, names: list[str], count: int, prefix: str) -> list[dict]:
    records = []
    for k in range(count):
        name, ci, ni, pi = _scene(rng, names)
        order, label = _place_choices(rng, pi, 4)
        record = {
            "id": f"{prefix}{k:03d}",
            "label": label,
            "question": f"Where are the {NOUN_EN[ni]} of {name}?",
            "context": f"{name} keeps the {COLOUR_EN[ci]} {NOUN_EN[ni]} {PLACE_EN[pi]}. {name} is happy.",
        }
        record.update({f"answer{i}": f"They are {PLACE_EN[p]}." for i, p in enumerate(order)})
        records.append(record)
    return records


def write_multiple_choice() -> None:
    names = list(GENDER)
    train, dev = names[:12], names[12:18]
    rng = random.Random(SEED + 100)
    write_jsonl(
        OUT_DIR / "hellaswag/hellaswag_train.jsonl", hellaswag_records(rng, train, 48, "train")
    )
    write_jsonl(OUT_DIR / "hellaswag/hellaswag_val.jsonl", hellaswag_records(rng, dev, 24, "val"))
    rng = random.Random(SEED + 101)
    write_jsonl(
        OUT_DIR / "commonsenseqa/train_rand_split.jsonl", commonsenseqa_records(rng, train, 40)
    )
    write_jsonl(OUT_DIR / "commonsenseqa/dev_rand_split.jsonl", commonsenseqa_records(rng, dev, 20))
    rng = random.Random(SEED + 102)
    write_jsonl(OUT_DIR / "cosmosqa/train.jsonl", cosmosqa_records(rng, train, 40, "train"))
    write_jsonl(OUT_DIR / "cosmosqa/valid.jsonl", cosmosqa_records(rng, dev, 20, "valid"))


# Tagging: (word per language en|de|es|fr, UPOS tag); sentences from POS templates.
TAG_WORDS = {
    "VERB": "sees|sieht|ve|voit; buys|kauft|compra|achète; likes|mag|quiere|aime; finds|findet|encuentra|trouve",
    "DET": "the|das|el|le; a|ein|un|un",
    "ADJ": "big|große|grande|grand; small|kleine|pequeño|petit; old|alte|viejo|vieux; new|neue|nuevo|nouveau",
    "NOUN": "book|Buch|libro|livre; car|Auto|coche|voiture; house|Haus|casa|maison; dog|Hund|perro|chien",
    "ADP": "in|in|en|dans; near|bei|cerca|près",
    "PRON": "she|sie|ella|elle; he|er|él|il",
    "AUX": "is|ist|está|est",
    "ADV": "today|heute|hoy|aujourd'hui; often|oft|mucho|souvent",
    "CCONJ": "and|und|y|et; but|aber|pero|mais",
    "NUM": "two|zwei|dos|deux; three|drei|tres|trois",
}
POS_TEMPLATES = (
    "PROPN VERB DET ADJ NOUN ADP DET NOUN PUNCT",
    "PRON AUX ADJ CCONJ PRON VERB NUM NOUN ADV PUNCT",
    "DET NOUN VERB DET NOUN PUNCT",
)
CITIES = "London|Berlin|Madrid|Paris|Rome|Vienna|Oslo|Lisbon".split("|")
SURNAMES = "Smith|Müller|García|Martin|Rossi|Novak".split("|")
ORGS = ("Acme Corp", "Blue Bank", "Nova Group Ltd", "Red Cross")
NER_VERBS = "visits|besucht|visita|visite; works for|arbeitet für|trabaja para|travaille pour"
CCG_WORDS = {  # English words and their (toy) CCG supertags
    "NP": "Anna Ben Clara David Elena Frank",
    "(S\\NP)/NP": "sees likes finds buys",
    "S\\NP": "sleeps runs laughs",
    "NP/N": "the a every",
    "N": "book dog house car",
    "(S\\NP)\\(S\\NP)": "today often",
}
CCG_TEMPLATES = ("NP (S\\NP)/NP NP/N N .", "NP S\\NP (S\\NP)\\(S\\NP) .", "NP/N N S\\NP .")


def _tag_words() -> dict[str, list[list[str]]]:
    return {tag: [w.split("|") for w in text.split("; ")] for tag, text in TAG_WORDS.items()}


def pos_sentence(rng: random.Random, names: list[str], words: dict, li: int) -> list[list[str]]:
    rows = []
    for tag in rng.choice(POS_TEMPLATES).split():
        if tag == "PROPN":
            word = rng.choice(names)
        elif tag == "PUNCT":
            word = "."
        else:
            word = rng.choice(words[tag])[li]
        rows.append([word, tag])
    return rows


def long_pos_sentence(
    rng: random.Random, names: list[str], words: dict, li: int
) -> list[list[str]]:
    """About 50 words: clauses joined by a conjunction (for splitting tests)."""
    rows = []
    for k in range(6):
        clause = pos_sentence(rng, names, words, li)[:-1]
        rows += clause + ([[words["CCONJ"][0][li], "CCONJ"]] if k < 5 else [[".", "PUNCT"]])
    return rows


def ner_sentence(rng: random.Random, names: list[str], li: int, lang: str) -> list[list[str]]:
    verbs = [v.split("|") for v in NER_VERBS.split("; ")]
    verb = rng.choice(verbs)[li].split()
    rows = [[rng.choice(names), "B-PER"], [rng.choice(SURNAMES), "I-PER"]]
    rows += [[w, "O"] for w in verb]
    if " ".join(verb) in {v[li] for v in verbs[1:]}:
        org = rng.choice(ORGS).split()
        rows += [[w, "B-ORG" if i == 0 else "I-ORG"] for i, w in enumerate(org)]
    else:
        rows.append([rng.choice(CITIES), "B-LOC"])
    rows.append([".", "O"])
    return [[f"{lang}:{w}", t] for w, t in rows]


def ccg_sentence(rng: random.Random) -> list[list[str]]:
    words = {tag: text.split() for tag, text in CCG_WORDS.items()}
    return [
        [w if t == "." else rng.choice(words[t]), t]
        for t in rng.choice(CCG_TEMPLATES).split()
        for w in [t]
    ]


def write_columns(path: Path, sentences: list[list[list[str]]]) -> None:
    """Token-tag columns, a blank line between sentences."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join("".join(f"{w}\t{t}\n" for w, t in s) for s in sentences)
    path.write_bytes(text.encode("utf-8"))


def write_tagging() -> None:
    names = list(GENDER)
    words = _tag_words()
    rng = random.Random(SEED + 200)
    for split, count in (("train", 40), ("dev", 20), ("test", 20)):
        for li, lang in enumerate(LANGS):
            if split == "train" and lang != "en":
                continue
            pos = [pos_sentence(rng, names, words, li) for _ in range(count)]
            if split != "test":
                pos.insert(3, long_pos_sentence(rng, names, words, li))
            write_columns(OUT_DIR / f"udpos/{split}-{lang}.tsv", pos)
            ner = [ner_sentence(rng, names, li, lang) for _ in range(count)]
            write_columns(OUT_DIR / f"panx/{split}-{lang}.tsv", ner)
    rng = random.Random(SEED + 201)
    write_columns(OUT_DIR / "ccg/train.tsv", [ccg_sentence(rng) for _ in range(40)])
    write_columns(OUT_DIR / "ccg/dev.tsv", [ccg_sentence(rng) for _ in range(20)])


COLOUR_EN = _english(COLOURS)
NOUN_EN = _english(NOUNS)
PLACE_EN = _english(PLACES)

if __name__ == "__main__":
    main()
