"""Take private data out of prompt text before it is stored: e-mail addresses, card numbers, IBANs,
phone numbers, IP addresses and the like each become a placeholder such as ``[EMAIL]``.

Detectors err towards precision on numbers that carry a checksum (a 16-digit order number that fails
the Luhn check is not a card; an IBAN must pass mod-97), and towards recall on phone numbers (any run
of 8-15 digits with the usual separators), because a stored phone number costs more than a lost
order number. The placeholders keep the sentence readable for clustering and labelling.

>>> redact("Hi, I'm ana.lopez@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958")
"Hi, I'm [EMAIL], card [CARD], call [PHONE]"
>>> redact("order 1234 5678 9012 3456 arrived")  # fails the Luhn check: not a card, too long for a phone
'order 1234 5678 9012 3456 arrived'
"""

from __future__ import annotations

import os
import re
from typing import Callable

# An address in any script, combining marks too ('josé@exämple.es' was stored whole, 'franç[EMAIL]' kept
# the start of the name): a run of characters that are no space or punctuation of an address's frame,
# matched from the run's start only and without backtracking (possessive), so a long text without '@'
# costs one pass, not one per character (100,000 CJK characters took 23 s).
_LOCAL = r"[^\s@<>()\[\]{},;:\"'`|/\\]"
_EMAIL = re.compile(rf"(?<!{_LOCAL}){_LOCAL}++@(?:[^\s@<>()\[\]{{}},;:\"'`|/\\.]++\.)+[^\W\d_]{{2,}}+")
# An IBAN in capitals; in lower case only when named ('iban de89 3704 ...'), as 'flight ba16 from oslo'
# passed the mod-97 check one time in 97
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?\b")
_NAMED_IBAN = re.compile(r"(?i)(?<=\biban)(\W{1,3})([a-z]{2}\d{2}(?:[ -]?[a-z0-9]{4}){2,7}(?:[ -]?[a-z0-9]{1,3})?)\b")
# A card number: digits alone, or in groups with a space, two spaces or a dash (" - " after a group of four
# and between groups of four to six, as Amex's 3782 - 822463 - 10005: '08 - 19 - 22 - 28 ...', lottery
# numbers, passed the Luhn check one time in ten); with dots only as four
# groups of four ('1764057600.123008', an epoch time, passed the Luhn check one time in ten)
_CARD = re.compile(r"(?<![\d.-])(?:\d(?:(?:[ -]| {2})?\d){12,18}|\d{4}(?: ?- ?\d{4,6}){2,3}"
                   r"|\d{4}(?:\.\d{4}){3})(?![\d-]|\.\d)")
# Whole digit runs only (the look-arounds stop a match inside a longer number), and not dates.
_PHONE = re.compile(r"(?<![\w+(])(?<!\d[ .-])(?!\d{4}-\d\d-\d\d\b|\d\d?[./-]\d\d?[./-]\d{2,4}\b"
                    r"|(?:19|20)\d\d ?- ?(?:19|20)\d\d(?![ .()-]{0,2}\d))"  # nor a range of years, 2020-2024
                    r"(?:\+|00)?\(?\d(?:[ .()-]{0,2}\d){7,14}(?![ .()-]{0,2}\d)(?!\w)")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number passes.

    >>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
    (True, False)
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN (spaces allowed).

    >>> iban_ok("GB82 WEST 1234 5698 7654 32"), iban_ok("GB82 WEST 1234 5698 7654 33")
    (True, False)
    """
    compact = candidate.replace(" ", "").replace("-", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _checked(placeholder: str, check: Callable[[str], bool]) -> Callable[[re.Match], str]:
    def replace(match: re.Match) -> str:
        return placeholder if check(match.group()) else match.group()
    return replace


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _card(number: str) -> str:
    """A run of digit groups with the card number in it as [CARD]: the whole run, or, when the whole
    fails the Luhn check, the run without one or two groups at its start or end ('id 9 4111 1111 1111
    1111': a digit written before the number hid it, review); the run itself when no part is a card.

    >>> _card("4111 1111 1111 1111"), _card("9 4111 1111 1111 1111"), _card("1234 5678 9012 3456")
    ('[CARD]', '9 [CARD]', '1234 5678 9012 3456')
    """
    if luhn_ok(_digits(number)):
        return "[CARD]"
    tokens = re.split(r"([ -]+)", number)  # groups at even places, separators between
    for drop in (2, 4):  # one group, then two (with their separators)
        if len(tokens) <= drop:
            break
        for card, kept, first in (("".join(tokens[drop:]), "".join(tokens[:drop]), False),
                                  ("".join(tokens[:-drop]), "".join(tokens[-drop:]), True)):
            if 13 <= len(_digits(card)) <= 19 and luhn_ok(_digits(card)):
                return "[CARD]" + kept if first else kept + "[CARD]"
    return number


# Order matters: checksummed numbers first, so a card is never half-eaten by the phone pattern.
_RULES: list[tuple[re.Pattern, str | Callable[[re.Match], str]]] = [
    (_EMAIL, "[EMAIL]"),
    (_IBAN, _checked("[IBAN]", iban_ok)),
    (_NAMED_IBAN, lambda m: m.group(1) + "[IBAN]" if iban_ok(m.group(2)) else m.group()),
    (_CARD, lambda m: _card(m.group())),
    (_SSN, "[SSN]"),
    (_IPV4, "[IP]"),
    (_PHONE, _checked("[PHONE]", lambda s: 8 <= len(_digits(s)) <= 15)),
]


# Spaces and dashes of other code points, as text pasted from a web page or a banking app writes a
# number ('4111\u00a01111...', the French '+33\u202f6...', '555\u2011123'): matched as ' ' and '-',
# one character for one, so each match's place in the text is the same (QA: stored in full). Only
# inside a number: a dash between digits, a space between letters or digits (IBANs); an em dash after
# 'card' read as '-' made the number look like part of a longer one, and left it whole (review).
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212\ufe58\ufe63\uff0d"
_INNER = re.compile(rf"(?<=[\d ])[{_DASHES}](?=[ \d])|(?<=[^\W_()+-])[{_SPACES}]{{1,2}}(?=[^\W_()+-])"
                    rf"|(?<=[\d()+-])[{_SPACES}]{{1,2}}(?=[\d()+-])|(?<=[^\W_])[{_SPACES}]{{1,2}}(?=[(+-])"
                    rf"|(?<=[)+-])[{_SPACES}]{{1,2}}(?=[^\W_])")
_OTHER = re.compile(f"[{_SPACES}{_DASHES}]")


def _plain(text: str) -> str:
    """``text`` with the separators inside numbers as ' ' and '-', each the same length (a space or two
    between letters, digits, brackets and signs; a dash between digits or spaces). Run twice, as a
    dash between two no-break spaces is between spaces once they are read."""
    if not _OTHER.search(text):
        return text
    for _ in range(2):
        text = _INNER.sub(lambda m: "-" if m.group() in _DASHES else " " * len(m.group()), text)
    return text


PLACEHOLDERS = re.compile(r"\[(?:EMAIL|CARD|IBAN|SSN|IP|PHONE)\]")  # what redact writes: no words to name by


def redact(text: str) -> str:
    """``text`` with private data replaced by placeholders ([EMAIL], [CARD], [IBAN], [SSN], [IP], [PHONE]).

    >>> redact("IBAN DE89 3704 0044 0532 0130 00, SSN 078-05-1120, from 192.168.0.12")
    'IBAN [IBAN], SSN [SSN], from [IP]'
    >>> redact("my pin is 1234 and I'm 42, paid on 2026-11-25; ring (555) 123-4567")  # short numbers, dates stay
    "my pin is 1234 and I'm 42, paid on 2026-11-25; ring [PHONE]"
    >>> redact("card 4111\u00a01111\u00a01111\u00a01111, call +44\u202f20\u202f7946\u202f0958 or 555\u2011123\u20114567")
    'card [CARD], call [PHONE] or [PHONE]'
    >>> redact("IBAN: GB82-WEST-1234-5698-7654-32 \u00a0ok")  # the text around a match is kept as written
    'IBAN: [IBAN] \xa0ok'
    >>> redact("my card\u20144111111111111111\u2014thanks, iban\u00a0de89 3704 0044 0532 0130 00")
    'my card\u2014[CARD]\u2014thanks, iban\xa0[IBAN]'
    >>> redact("ring (555)\u00a0123-4567 or +7\u00a0(495)\u00a0123-45-67; card 4111\u00a0-\u00a01111\u00a0-\u00a01111\u00a0-\u00a01111")
    'ring [PHONE] or [PHONE]; card [CARD]'
    >>> redact("my numbers were 08 - 19 - 22 - 28 - 33 - 41 - 47, card 4111 - 1111 - 1111 - 1111")
    'my numbers were 08 - 19 - 22 - 28 - 33 - 41 - 47, card [CARD]'
    >>> redact("amex 3782 - 822463 - 10005, visa 4111 - 1111 - 1111-1111")
    'amex [CARD], visa [CARD]'
    >>> redact("in 2020-2024 and 2020\u20132024, call 2020-2024-1234")  # years are no phone; a number is
    'in 2020-2024 and 2020\u20132024, call [PHONE]'
    """
    plain = _plain(text)
    for pattern, replacement in _RULES:  # matched on the plain text, replaced in both
        parts, plain_parts, end = [], [], 0
        for match in pattern.finditer(plain):
            put = replacement if isinstance(replacement, str) else replacement(match)
            if put == match.group():
                continue
            kept = len(os.path.commonprefix([put, match.group()]))  # what the rule keeps (a named IBAN's
            put = text[match.start():match.start() + kept] + put[kept:]  # 'iban\u00a0') as written
            parts += [text[end:match.start()], put]
            plain_parts += [plain[end:match.start()], put]
            end = match.end()
        if parts:
            text, plain = "".join(parts) + text[end:], "".join(plain_parts) + plain[end:]
    return text
