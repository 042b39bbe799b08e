"""Sentence templates and slot values for planted facts (see ``needles`` for the families).

Each template belongs to one split: "eval" (measured sets) or "dev" (allowed for tuning and training).
Reworded templates share a first name and at most a function word with their question.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ExactTemplate:
    """A keyed fact; ``{key}`` is filled with a made-up name or a look-alike code."""

    fact: str
    question: str
    answer: str
    split: str = "eval"


@dataclass(frozen=True)
class RewordedTemplate:
    """A personal fact about ``{name}`` and a question about it in other words."""

    fact: str
    question: str
    answer: str
    split: str = "eval"


@dataclass(frozen=True)
class UpdatedTemplate:
    """A fact, its later correction (which may name the old value as ``{old_<answer>}``), and the question."""

    fact: str
    update: str
    question: str
    answer: str
    split: str = "eval"


def _code(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(1000, 9999)}"


def _passphrase(rng: random.Random) -> str:
    words = ("amber", "falcon", "cedar", "harbor", "pine", "copper", "meadow", "lantern", "orbit", "willow", "basalt",
             "juniper", "marble", "tundra", "velvet", "quartz")
    first, second = rng.sample(words, 2)
    return f"{first}-{second}-{rng.randint(10, 99)}"


def _number(low: int, high: int) -> Callable[[random.Random], str]:
    return lambda rng: str(rng.randint(low, high))


def _combination(rng: random.Random) -> str:
    return "-".join(f"{rng.randint(0, 59):02d}" for _ in range(3))


def _plate(rng: random.Random) -> str:
    return f"{_code(rng)[:2]} {rng.randint(100, 999)} {rng.choice('KLMNRST')}{rng.choice('ABCDEFG')}"


def _phone(rng: random.Random) -> str:
    return f"0{rng.randint(150, 179)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(8, 17)}:{rng.choice(('00', '15', '30', '45'))}"


VALUES: dict[str, Sequence[str] | Callable[[random.Random], str]] = {
    "code": _code, "passphrase": _passphrase, "port": _number(2000, 9999), "combination": _combination,
    "plate": _plate, "degrees": _number(12, 29), "gate": _number(2, 48), "shelf": _number(2, 90),
    "phone": _phone, "time": _time, "room": _number(101, 499),
    "street": ("Birch Lane", "Harbour Road", "Mill Street", "Quarry Hill", "Orchard Way", "Tanner's Row",
               "Kingsley Avenue", "Foundry Street", "Willow Crescent", "Station Road", "Abbey Close"),
    "job": ("paramedic", "locksmith", "tax adviser", "sound engineer", "ferry captain", "glassblower",
            "pharmacist", "surveyor", "baker", "court reporter"),
    "city": ("Tallinn", "Porto", "Ghent", "Bergen", "Lyon", "Krakow", "Aarhus", "Bologna", "Graz", "Cork",
             "Utrecht", "Tampere"),
    "food": ("shellfish", "peanuts", "mushrooms", "aubergine", "blue cheese", "coriander", "anchovies"),
    "container": ("watering can", "old boot", "birdhouse", "biscuit tin", "flower pot", "toolbox"),
    "allergen": ("chicken", "wheat", "grass pollen", "beef", "dairy", "fleas"),
    "car": ("Volvo estate", "Fiat Panda", "Skoda Octavia", "Renault Clio", "Toyota pickup", "Mini Cooper"),
    "instrument": ("cello", "oboe", "trombone", "double bass", "harp", "bassoon", "viola"),
    "organisation": ("animal shelter", "food bank", "lifeboat station", "botanical garden", "youth hostel"),
    "dish": ("plum dumplings", "rye bread", "cinnamon rolls", "apple strudel", "poppy-seed cake"),
    "fear": ("wasps", "deep water", "thunderstorms", "spiders", "escalators", "heights"),
    "subject": ("geology", "marine biology", "art history", "statistics", "Norse philology", "architecture"),
    "drink": ("tonic water", "espresso", "ginger beer", "buttermilk", "rooibos tea"),
    "country": ("Portugal", "Norway", "Japan", "Chile", "Romania", "Canada", "Morocco"),
    "activity": ("skiing", "ice skating", "rock climbing", "snowboarding", "sledging"),
    "painter": ("Vermeer", "Hopper", "Kahlo", "Turner", "Hokusai"),
    "place": ("bus depot", "public pool", "old lighthouse", "fish market", "car park"),
    "language": ("Finnish", "Portuguese", "Hungarian", "Greek", "Korean"),
    "school": ("Hillcrest", "St Brendan's", "Riverside", "the Montessori academy"),
    "team": ("payroll", "logistics", "design", "support", "legal", "research"),
    "company": ("Northwind", "Brightwater", "Alder & Finch", "Kestrel Labs", "Ironbridge", "Bluefield"),
    "book": ("Middlemarch", "The Leopard", "Stoner", "Kristin Lavransdatter", "The Remains of the Day",
             "Pnin", "Dune"),
    "day": ("Monday the 3rd", "Tuesday the 11th", "Wednesday the 19th", "Thursday the 6th", "Friday the 14th",
            "Monday the 24th", "Thursday the 27th"),
}

NAMES = ("Priya", "Tomasz", "Ingrid", "Kwame", "Lucia", "Henrik", "Amara", "Mateo")

EXACT = (
    ExactTemplate("The access code for the {key} archive room is {code}.",
                  "What is the access code for the {key} archive room?", "code"),
    ExactTemplate("The {key} project's backup server answers on port {port}.",
                  "Which port does the {key} project's backup server answer on?", "port"),
    ExactTemplate("Shipment {key} left the warehouse under seal number {code}.",
                  "What seal number did shipment {key} leave the warehouse under?", "code"),
    ExactTemplate("The locker assigned to {key} opens with the combination {combination}.",
                  "What combination opens the locker assigned to {key}?", "combination"),
    ExactTemplate("The licence plate of the {key} delivery van is {plate}.",
                  "What is the licence plate of the {key} delivery van?", "plate"),
    ExactTemplate("The wifi password at the {key} guesthouse is {passphrase}.",
                  "What is the wifi password at the {key} guesthouse?", "passphrase"),
    ExactTemplate("The invoice from {key} Ltd carries the reference {code}.",
                  "Which reference does the invoice from {key} Ltd carry?", "code", split="dev"),
    ExactTemplate("The {key} greenhouse thermostat is set to {degrees} degrees.",
                  "What temperature is the {key} greenhouse thermostat set to?", "degrees", split="dev"),
)

LOOKALIKE = (
    ExactTemplate("The combination for locker {key} is {combination}.",
                  "What is the combination for locker {key}?", "combination"),
    ExactTemplate("Flight {key} boards at gate {gate}.", "Which gate does flight {key} board at?", "gate"),
    ExactTemplate("Parcel {key} is to be delivered to {street}.", "Where is parcel {key} to be delivered?",
                  "street"),
    ExactTemplate("Sample {key} is stored on freezer shelf {shelf}.", "Which freezer shelf is sample {key} on?",
                  "shelf"),
    ExactTemplate("Room {key} is booked by the {team} team on Thursdays.",
                  "Which team books room {key} on Thursdays?", "team", split="dev"),
)

REWORDED = (
    RewordedTemplate("{name} finally signed the lease for a flat on {street} last spring.",
                     "Where did {name} rent an apartment?", "street"),
    RewordedTemplate("{name}'s younger brother earns his living as a {job}.",
                     "What does {name}'s sibling do for work?", "job"),
    RewordedTemplate("After the surgery, {name} was told to stay away from {food} for good.",
                     "Which food must {name} never eat again, according to the doctors?", "food"),
    RewordedTemplate("{name} hides a duplicate of the front-door key in the {container} by the entrance.",
                     "Where is the spare house key for {name}'s place?", "container"),
    RewordedTemplate("{name} was born in {city} and moved away at the age of six.",
                     "What is {name}'s hometown?", "city"),
    RewordedTemplate("The vet says {name}'s dog reacts badly to {allergen}.",
                     "What is {name}'s pet allergic to?", "allergen"),
    RewordedTemplate("{name} drives a second-hand {car}.", "What kind of vehicle does {name} own?", "car"),
    RewordedTemplate("{name} plays the {instrument} in a community orchestra every Tuesday.",
                     "Which musical instrument can {name} perform on?", "instrument"),
    RewordedTemplate("Every summer {name} spends three weeks working unpaid at the {organisation}.",
                     "Where does {name} volunteer during the holidays?", "organisation"),
    RewordedTemplate("{name}'s grandmother taught her how to bake {dish} when she was small.",
                     "What did {name} learn to make as a child from a grandparent?", "dish"),
    RewordedTemplate("{name} panics around {fear} and avoids them whenever possible.",
                     "What scares {name}?", "fear"),
    RewordedTemplate("{name} met the love of their life while studying {subject} at university.",
                     "In which course did {name} find a partner?", "subject"),
    RewordedTemplate("The company transferred {name} to its {city} branch in March.",
                     "Which office was {name} moved to by the employer?", "city"),
    RewordedTemplate("{name} cannot stand {drink}, so bring something else to the party.",
                     "Which beverage does {name} dislike?", "drink"),
    RewordedTemplate("{name} is saving up to cross {country} by train next year.",
                     "Which nation does {name} plan to tour by rail?", "country"),
    RewordedTemplate("{name} broke a wrist while {activity} two winters ago.",
                     "How did {name} get injured?", "activity"),
    RewordedTemplate("{name}'s favourite painter is {painter}.", "Whose artwork does {name} admire most?",
                     "painter", split="dev"),
    RewordedTemplate("{name} lost the wedding ring somewhere near the {place}.",
                     "Where did {name} misplace the marriage band?", "place", split="dev"),
    RewordedTemplate("{name} speaks fluent {language} thanks to a childhood abroad.",
                     "Which tongue can {name} converse in?", "language", split="dev"),
    RewordedTemplate("{name}'s daughter is a pupil at {school}.", "Where does {name}'s kid study?", "school",
                     split="dev"),
)

UPDATED = (
    UpdatedTemplate("{name}'s dentist appointment is on {day} at {time}.",
                    "{name}'s dentist appointment was moved from {old_day} to {day} at {time}.",
                    "When is {name}'s dentist appointment?", "day"),
    UpdatedTemplate("{name}'s new phone number is {phone}.",
                    "{name} changed numbers again; the current one is {phone}, not {old_phone}.",
                    "What is {name}'s phone number?", "phone"),
    UpdatedTemplate("{name}'s {team} team meets in room {room}.",
                    "Since the renovation, {name}'s {team} team meets in room {room} instead of {old_room}.",
                    "Which room does {name}'s {team} team meet in?", "room"),
    UpdatedTemplate("{name} works at {company} as a {job}.",
                    "{name} left {old_company} in the autumn and now works at {company}.",
                    "Where does {name} work?", "company"),
    UpdatedTemplate("{name}'s book club is reading {book} this month.",
                    "{name}'s book club dropped {old_book} and switched to {book}.",
                    "Which book is {name}'s book club reading?", "book"),
    UpdatedTemplate("{name} lives at {street}.", "{name} moved out of {old_street}; the new address is {street}.",
                    "Where does {name} live?", "street", split="dev"),
)
