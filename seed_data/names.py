"""Sites and name parts of the demo distributor: its warehouses, customers and suppliers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Site:
    code: str
    city: str
    state: str
    time_zone: str
    region: str
    latitude: float
    longitude: float
    share: float  # share of customers served from this warehouse, before normalising


# The first five span three time zones; a demo with more warehouses takes the next ones in order.
SITES: tuple[Site, ...] = (
    Site("ATL1", "McDonough", "GA", "America/New_York", "Southeast", 33.45, -84.15, 1.0),
    Site("ORD1", "Joliet", "IL", "America/Chicago", "Midwest", 41.53, -88.08, 1.1),
    Site("ONT1", "Ontario", "CA", "America/Los_Angeles", "West", 34.06, -117.65, 1.1),
    Site("EWR1", "Edison", "NJ", "America/New_York", "Northeast", 40.52, -74.41, 1.2),
    Site("DFW1", "Lancaster", "TX", "America/Chicago", "South Central", 32.59, -96.76, 1.0),
    Site("CMH1", "Groveport", "OH", "America/New_York", "Great Lakes", 39.85, -82.88, 0.8),
    Site("MEM1", "Memphis", "TN", "America/Chicago", "Mid-South", 35.15, -90.05, 0.7),
    Site("SEA1", "Kent", "WA", "America/Los_Angeles", "Pacific Northwest", 47.38, -122.23, 0.7),
    Site("DEN1", "Aurora", "CO", "America/Denver", "Mountain", 39.73, -104.83, 0.6),
    Site("CLT1", "Charlotte", "NC", "America/New_York", "Carolinas", 35.23, -80.84, 0.7),
    Site("PHX1", "Goodyear", "AZ", "America/Phoenix", "Southwest", 33.44, -112.36, 0.6),
    Site("MSP1", "Shakopee", "MN", "America/Chicago", "Upper Midwest", 44.80, -93.53, 0.6),
)

CITIES: tuple[str, ...] = (
    "Springfield", "Riverside", "Fairview", "Franklin", "Greenville", "Bristol", "Clinton", "Madison",
    "Georgetown", "Salem", "Marion", "Ashland", "Burlington", "Dayton", "Lexington", "Milford",
    "Oxford", "Jackson", "Lancaster", "Hudson", "Newport", "Winchester", "Auburn", "Dover",
    "Columbia", "Mount Vernon", "Plymouth", "Kingston", "Arlington", "Centerville", "Manchester",
    "Waverly", "Troy", "Florence", "Hamilton", "Cleveland", "Lebanon", "Chester", "Bedford", "Camden",
)

SURNAMES: tuple[str, ...] = (
    "Anderson", "Baxter", "Caldwell", "Dawson", "Ellis", "Fletcher", "Garrison", "Hollis", "Irwin",
    "Jennings", "Keller", "Lawson", "Mercer", "Norris", "Oakley", "Prescott", "Quinlan", "Ramsey",
    "Sterling", "Thornton", "Underwood", "Vance", "Whitaker", "Yates", "Beckett", "Crawford",
    "Donovan", "Emerson", "Forsyth", "Hale", "Lindqvist", "Maddox", "Pruitt", "Sandoval", "Tillman",
)

STEMS: tuple[str, ...] = (
    "Apex", "Summit", "Keystone", "Liberty", "Pioneer", "Northstar", "Heartland", "Tri-State",
    "Great Lakes", "Blue Ridge", "Cascade", "Gulf Coast", "Frontier", "Ironwood", "Allied", "Midland",
    "Pinnacle", "Sierra", "Atlas", "Patriot", "Benchmark", "Crestline", "Red River", "Granite",
)

STATES: tuple[str, ...] = (
    "Ohio", "Georgia", "Texas", "Illinois", "Arizona", "Tennessee", "Colorado", "Washington",
    "New Jersey", "North Carolina", "Minnesota", "California",
)

# Name patterns per customer segment; {city}, {surname}, {stem} and {state} are filled in.
CUSTOMER_PATTERNS: dict[str, tuple[str, ...]] = {
    "healthcare": (
        "{city} Regional Medical Center", "{city} General Hospital", "{stem} Health System",
        "St. {surname} Hospital", "{city} Surgical Center", "{stem} Community Clinics",
        "{city} Children's Hospital", "{surname} Senior Care",
    ),
    "manufacturing": (
        "{surname} Precision Machining", "{stem} Manufacturing Co.", "{surname} Metal Works",
        "{stem} Plastics Inc.", "{surname} Fabrication LLC", "{stem} Automotive Components",
        "{city} Stamping & Tool", "{stem} Packaging Corp.",
    ),
    "construction": (
        "{surname} Construction", "{stem} Builders", "{surname} Mechanical Contractors",
        "{stem} Electric Inc.", "{surname} & Sons Contracting", "{city} Paving Co.",
    ),
    "government": (
        "City of {city} Public Works", "{surname} County Facilities", "State of {state} DOT District {number}",
        "{city} Housing Authority", "{surname} County Sheriff's Office",
    ),
    "utilities": (
        "{stem} Power & Light", "{city} Water Authority", "{stem} Gas Company",
        "{stem} Electric Cooperative", "{city} Municipal Utilities",
    ),
    "education": (
        "{city} Unified School District", "{state} State University", "{surname} College",
        "{city} Community College",
    ),
    "food_beverage": (
        "{surname} Foods", "{stem} Bottling Co.", "{city} Dairy Cooperative", "{stem} Bakeries",
        "{surname} Meat Processing",
    ),
    "energy": (
        "{stem} Midstream", "{surname} Oilfield Services", "{stem} Renewables", "{stem} Refining",
    ),
    "transportation": (
        "{stem} Transit Authority", "{surname} Logistics", "{stem} Fleet Services",
        "{city} Regional Airport", "{surname} Trucking",
    ),
}


@dataclass(frozen=True)
class SupplierOrigin:
    country: str  # ISO 3166-1 alpha-2
    share: float
    lead_low: int  # days from order to promised receipt
    lead_high: int
    modes: tuple[str, ...]  # shipment modes, the first the usual one
    pattern: str  # {stem} and {goods} are filled in


SUPPLIER_ORIGINS: tuple[SupplierOrigin, ...] = (
    SupplierOrigin("US", 0.55, 5, 12, ("LTL", "Parcel", "Truckload"), "{stem} {goods} Inc."),
    SupplierOrigin("CA", 0.05, 8, 16, ("LTL", "Truckload"), "{stem} {goods} Ltd."),
    SupplierOrigin("MX", 0.10, 10, 20, ("Truckload", "LTL"), "{stem} {goods} S.A. de C.V."),
    SupplierOrigin("CN", 0.15, 42, 70, ("Ocean", "Air"), "Ningbo {stem} {goods} Co., Ltd."),
    SupplierOrigin("TW", 0.05, 40, 60, ("Ocean", "Air"), "{stem} Precision {goods} Co., Ltd."),
    SupplierOrigin("VN", 0.03, 45, 70, ("Ocean", "Air"), "{stem} {goods} Vietnam Co., Ltd."),
    SupplierOrigin("IN", 0.03, 45, 75, ("Ocean", "Air"), "{stem} {goods} Pvt. Ltd."),
    SupplierOrigin("DE", 0.04, 28, 42, ("Ocean", "Air"), "{stem} {goods} GmbH"),
)

# The goods a supplier of a family is named after, by family name.
SUPPLIER_GOODS: dict[str, str] = {
    "Fasteners": "Fastener",
    "PPE": "Protective Products",
    "Safety": "Safety Products",
    "Janitorial": "Sanitation Supply",
    "Medical Consumables": "Medical Products",
    "Electrical": "Electrical Products",
    "Hydraulics": "Hydraulics",
    "Pneumatics": "Pneumatic Components",
    "Bearings & Power Transmission": "Bearing",
    "Lubricants & Chemicals": "Lubricants",
    "Abrasives": "Abrasives",
    "Cutting Tools": "Cutting Tools",
    "Hand Tools": "Tool Works",
    "Power Tools": "Power Tools",
    "Plumbing": "Valve & Fitting",
    "HVAC & Filtration": "Filtration",
    "Lighting": "Lighting",
    "Welding": "Welding Supply",
    "Adhesives & Sealants": "Adhesives",
    "Packaging": "Packaging",
    "Material Handling": "Material Handling",
    "Test & Measurement": "Instruments",
}


def unique_name(names: random.Random, used: set[str], draw: Callable[[], str]) -> str:
    """Return a name from draw() that is not in used yet, and add it to used.

    After five repeated draws the name gets a number appended.
    """
    name = draw()
    attempts = 0
    while name in used and attempts < 5:
        name = draw()
        attempts += 1
    if name in used:
        name = f"{name} {len(used)}"
    used.add(name)
    return name
