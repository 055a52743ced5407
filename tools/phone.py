"""Phone numbers as lookup keys.

Every number that reaches the module (from a PBX, a tracker or a partner form)
is turned once into an E.164 key; lookups compare keys with ``=`` on an index.
"""

import functools
import re

import phonenumbers

_NON_DIGITS = re.compile(r"\D+")
# Longer input is not a phone number (E.164 has at most 15 digits; allow
# punctuation, spaces and an extension-free "+").
MAX_INPUT_LENGTH = 40


def digits_only(value):
    """The digits of ``value`` ('' for anything that is not a string)."""
    if not isinstance(value, str):
        return ""
    return _NON_DIGITS.sub("", value)


@functools.lru_cache(maxsize=65536)
def phone_key(number, country_code=None):
    """E.164 form of ``number`` or False when it is not a usable phone number.

    ``country_code`` (ISO 3166 alpha-2) is the region of numbers written
    without their country code. Russian forms that PBXs and trackers produce
    (``8 916 123-45-67``, ``+7 (916) 123-45-67``, ``79161234567``,
    ``9161234567``) all give ``+79161234567`` with ``country_code='RU'``.
    Internal extensions, garbage and over-long input give False. Results are
    cached: the same callers call again and again.
    """
    if not isinstance(number, str) or len(number) > MAX_INPUT_LENGTH:
        return False
    number = number.strip()
    digits = digits_only(number)
    if not 6 <= len(digits) <= 15:
        return False
    region = (country_code or "").upper() or None
    if number.startswith("+"):
        candidates = [("+" + digits, None)]
    elif number.startswith("00"):
        candidates = [("+" + digits[2:], None)]
    else:
        # national form first, then the same digits read as international
        # (trackers write 79161234567 for +7 916 123-45-67)
        candidates = [(number, region), ("+" + digits, None)]
    for text, text_region in candidates:
        if text_region is None and not text.startswith("+"):
            continue
        try:
            parsed = phonenumbers.parse(text, text_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.E164
            )
    return False


def search_variants(text):
    """Digit strings to look for when a user searches calls by (part of) a number.

    A Russian trunk prefix is ambiguous in a fragment: ``8 916`` and ``+7 916``
    both mean ``916``, so a fragment starting with 7 or 8 is also looked for
    without that digit.
    """
    digits = digits_only(text)
    if not digits:
        return []
    variants = [digits]
    if len(digits) >= 4 and digits[0] in "78":
        variants.append(digits[1:])
    return variants
