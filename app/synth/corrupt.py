"""How people's details go wrong when they are typed again: typos, phonetic spellings,
swapped date parts, mistyped e-mail addresses and phone numbers. Every function takes the
random source, so a seed gives the same errors."""

from __future__ import annotations

import random
from datetime import date, timedelta

from app.synth.names import EMAIL_DOMAINS

# Keys next to each other on a QWERTY keyboard: a slip of the finger.
_NEIGHBOURS = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}
# Spellings that sound alike; a clerk who hears a name writes one of them.
_SOUND_ALIKE = (("ij", "y"), ("y", "ij"), ("ph", "f"), ("c", "k"), ("k", "c"), ("ou", "au"),
                ("ee", "e"), ("ck", "k"), ("th", "t"), ("ie", "i"), ("dt", "d"), ("sch", "s"))


def typo(rng: random.Random, text: str) -> str:
    """One slip: a neighbouring key, a dropped, doubled or exchanged letter, or a space
    in the wrong place ("de Wit" -> "d eWit")."""
    if len(text) < 2:
        return text
    i = rng.randrange(len(text))
    kind = rng.choices(("neighbour", "drop", "double", "swap", "space"), (4, 3, 2, 3, 1))[0]
    c = text[i]
    if kind == "neighbour" and c.lower() in _NEIGHBOURS:
        return text[:i] + rng.choice(_NEIGHBOURS[c.lower()]) + text[i + 1:]
    if kind == "drop" and len(text) > 3:
        return text[:i] + text[i + 1:]
    if kind == "double":
        return text[:i] + c + text[i:]
    if kind == "space" and " " in text:
        j = text.index(" ")
        return text[:j - 1] + " " + text[j - 1] + text[j + 1:] if j > 1 else text
    j = min(i, len(text) - 2)
    return text[:j] + text[j + 1] + text[j] + text[j + 2:]


def sound_alike(rng: random.Random, text: str) -> str:
    """A phonetic respelling where the name allows one, else a typo."""
    lower = text.lower()
    options = [(a, b) for a, b in _SOUND_ALIKE if a in lower]
    if not options:
        return typo(rng, text)
    a, b = rng.choice(options)
    i = lower.index(a)
    return text[:i] + b + text[i + len(a):]


def name_error(rng: random.Random, text: str) -> str:
    return sound_alike(rng, text) if rng.random() < 0.25 else typo(rng, text)


def date_error(rng: random.Random, iso: str) -> str:
    """A wrong birth date that stays a calendar date: a digit slip, day and month
    exchanged, the year one off, or another day of the same month."""
    born = date.fromisoformat(iso)
    kind = rng.choices(("digit", "swap", "year", "day"), (4, 2, 2, 2))[0]
    if kind == "swap" and born.day <= 12 and born.day != born.month:
        return born.replace(month=born.day, day=born.month).isoformat()
    if kind == "year":
        return _safe(born, year=born.year + rng.choice((-1, 1))).isoformat()
    if kind == "day":
        return _safe(born, day=1 + (born.day + rng.randrange(1, 27)) % 28).isoformat()
    for _ in range(10):
        text = iso.replace("-", "")
        i = rng.choice((2, 3, 5, 7))  # a digit of the year's tail, the month or the day
        candidate = text[:i] + str(rng.randrange(10)) + text[i + 1:]
        try:
            slipped = date(int(candidate[:4]), int(candidate[4:6]), int(candidate[6:]))
        except ValueError:
            continue
        if slipped != born:
            return slipped.isoformat()
    return (born + timedelta(days=1)).isoformat()


def _safe(born: date, **change: int) -> date:
    try:
        return born.replace(**change)
    except ValueError:  # 29 February in another year
        return born.replace(day=28, **{k: v for k, v in change.items() if k != "day"})


def email_error(rng: random.Random, email: str) -> str:
    """A typo in the local part or the domain, or the same name at another provider."""
    local, _, domain = email.partition("@")
    kind = rng.choices(("local", "domain", "provider"), (5, 2, 2))[0]
    if kind == "local" and len(local) > 2:
        for _ in range(10):
            slipped = typo(rng, local)
            # still an address a form accepts: no dot at either end, no two dots in a row
            if slipped[0] != "." and slipped[-1] != "." and ".." not in slipped:
                return f"{slipped}@{domain}"
    if kind == "domain":
        name, _, tld = domain.rpartition(".")
        return f"{local}@{typo(rng, name)}.{tld}"
    return f"{local}@{rng.choice([d for d in EMAIL_DOMAINS if d != domain])}"


def phone_error(rng: random.Random, phone: str) -> str:
    """One digit of the subscriber number wrong, or two of them exchanged."""
    head, tail = phone[:-8], phone[-8:]
    i = rng.randrange(7)
    if rng.random() < 0.5:
        tail = tail[:i] + tail[i + 1] + tail[i] + tail[i + 2:]
    else:
        tail = tail[:i] + str((int(tail[i]) + rng.randrange(1, 10)) % 10) + tail[i + 1:]
    return head + tail
