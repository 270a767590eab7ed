"""Word lists the detectors share.

Everything here is general-purpose vocabulary of spoken English call transcripts (number words,
months, US states, street suffixes, frequent words); names and ordinary English come from public
data files (vocabulary.py). Nothing is taken from an
evaluation set: the engine is judged on transcripts it has never seen.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


DIGIT_WORDS: dict[str, str] = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
# Homophones count as digits only when a digit word stands on both sides of them.
HOMOPHONES: dict[str, str] = {"to": "2", "too": "2", "for": "4", "won": "1", "ate": "8"}
TEENS: dict[str, int] = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
REPEATS: dict[str, int] = {"double": 2, "triple": 3}
SCALES: dict[str, int] = {"hundred": 100, "thousand": 1000}
NUMBER_WORDS = frozenset(DIGIT_WORDS) | frozenset(TEENS) | frozenset(TENS) | frozenset(REPEATS)
NUMBER_WORDS |= frozenset(SCALES)

ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}

FILLERS = _words("uh um er erm uhm umm hmm hm ah eh mm uhh")
# Words of a self-correction inside a number ("four one five sorry four one six"); "i mean" too.
CORRECTIONS = _words("sorry no wait actually scratch correction")

MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}

STREET_SUFFIXES = _words(
    "street st avenue ave road rd boulevard blvd lane ln drive dr court ct way place pl "
    "terrace circle cir parkway pkwy highway hwy trail square sq crescent loop pike alley "
    # UK, Irish and Commonwealth forms, USPS suffixes beyond the common ones, and continental
    # street words said after the name
    "close grove mews rise walk crossing bend run pass row gardens green view wharf quay yard "
    "heights hollow ridge landing commons meadows glen vale chase cove esplanade promenade "
    "strasse straße weg gasse platz allee laan straat vej gata"
)
# Words that open an address before its house number ("flat 3b, 27 ..."), and P.O. boxes.
ADDRESS_OPENERS = _words("flat apartment apt unit suite lot building bldg block plot")
UNIT_WORDS = _words("apartment apt unit suite ste floor building bldg room number #")
US_STATES = _words(
    "alabama alaska arizona arkansas california colorado connecticut delaware florida georgia "
    "hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts "
    "michigan minnesota mississippi missouri montana nebraska nevada ohio oklahoma oregon "
    "pennsylvania tennessee texas utah vermont virginia washington wisconsin wyoming "
    "al ak az ar ca co ct de fl ga hi id il ia ks ky la md ma mi mn ms mo mt ne nv nh nj nm "
    "ny nc nd oh ok or pa ri sc sd tn tx ut vt va wa wv wi wy dc"
)
# Countries said at the end of an address ("..., dunedin new zealand").
COUNTRIES = _words(
    "usa us uk england scotland wales ireland canada australia germany france spain italy "
    "portugal netherlands belgium switzerland austria sweden norway denmark finland poland "
    "mexico brazil india nigeria ghana kenya japan china singapore philippines"
)
COUNTRY_PAIRS = frozenset({("new", "zealand"), ("united", "kingdom"), ("united", "states"),
                           ("northern", "ireland"), ("south", "africa"), ("hong", "kong")})
# Two-word states are matched on their second word after the first.
STATE_SECOND_WORDS = _words("hampshire jersey mexico york carolina dakota island virginia columbia")
STATE_FIRST_WORDS = _words("new north south rhode west district")

TLDS = _words(
    "com net org edu gov mil io co us uk ca de fr es it nl au in info biz me ai app dev ie "
    "nz ch se no jp br mx"
)
MAIL_PROVIDERS = _words(
    "gmail yahoo hotmail outlook icloud aol protonmail proton live msn comcast verizon att "
    "mail gmx yandex zoho"
)
EMAIL_CONNECTORS: dict[str, str] = {
    "dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-",
}

NATO: dict[str, str] = {
    "alpha": "a", "alfa": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e",
    "foxtrot": "f", "golf": "g", "hotel": "h", "india": "i", "juliet": "j", "juliett": "j",
    "kilo": "k", "lima": "l", "mike": "m", "november": "n", "oscar": "o", "papa": "p",
    "quebec": "q", "romeo": "r", "sierra": "s", "tango": "t", "uniform": "u", "victor": "v",
    "whiskey": "w", "xray": "x", "x-ray": "x", "yankee": "y", "zulu": "z",
}

# Frequent words of call-centre English. A token in this set is never taken for a surname and
# stops a name; it also keeps "this is <word>" from being read as an introduction.
COMMON_WORDS = _words(
    "a an the and or but if so of to in on at by for from with about as into over after before "
    "up down out off than then there here this that these those it its it's is are was were be "
    "been being am do does did doing have has had having will would can could should shall may "
    "might must not no yes yeah yep nope ok okay sure right well oh just also too very really "
    "i me my mine we us our you your yours he him his she her they them their what which who "
    "whom whose when where why how all any both each few more most other some such only own "
    "same again once now today tomorrow yesterday please thanks thank hi hello hey bye goodbye "
    "calling call called speaking speak talking here from with date birth last first name "
    "middle full spelled spell spelling number account card phone email address code zip "
    "social security date born street avenue customer service support team department bank "
    "airlines airline company store inc corp llc services help helping good great fine sorry "
    "got get getting go going gonna want wanted need needed like just still actually maybe "
    "one two three four five six seven eight nine ten zero hundred thousand new old back home "
    "best buy order ticket flight refund bill billing payment charge charged problem issue "
    "question correct wrong because since until while again day week month year morning "
    "afternoon evening night time minute second hour let lets let's see look looking check "
    "checking know think say said tell told ask asked give gave take took make made put "
    "send sending sent receive received pay paid use used try trying work working happy glad "
    "calling wondering hoping trying able unable regarding re reference confirm confirming "
    "verify verifying update updating change changing cancel cancelling also anyway thing "
    "something nothing everything anything someone everyone nobody there's that's what's "
    "i'm i've i'll i'd you're you've we're they're he's she's isn't wasn't don't doesn't "
    "didn't can't won't not sir madam ma'am mister miss mrs mr ms dr doctor"
)
