"""Product families of the demo distributor: what it sells, at what cost, to which segments.

Costs are the distributor's cost per each (base unit) in US dollars. A
product's typical quantity is the number of eaches on a usual order line.
A family's segment affinity weighs how often customers of a segment order
from it; segments it does not name weigh 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEGMENTS: tuple[str, ...] = (
    "healthcare",
    "manufacturing",
    "construction",
    "government",
    "utilities",
    "education",
    "food_beverage",
    "energy",
    "transportation",
)

# Share of customers per segment, in SEGMENTS order.
SEGMENT_SHARES: tuple[float, ...] = (0.15, 0.27, 0.14, 0.10, 0.08, 0.07, 0.08, 0.05, 0.06)


@dataclass(frozen=True)
class Product:
    name: str
    cost_low: float
    cost_high: float
    typical_qty: float
    options: tuple[tuple[str, ...], ...]
    packs: tuple[int, ...] = ()
    regulated: bool = False


@dataclass(frozen=True)
class Family:
    name: str
    prefix: str
    products: tuple[Product, ...]
    affinity: dict[str, float] = field(default_factory=dict)
    share: float = 1.0  # relative number of SKUs in the catalog


FAMILIES: tuple[Family, ...] = (
    Family(
        "Fasteners",
        "FAS",
        share=2.0,
        affinity={"manufacturing": 5, "construction": 4, "utilities": 2, "transportation": 2, "healthcare": 0.3},
        products=(
            Product("Hex Cap Screw", 6, 45, 10, (
                ("Grade 5 Zinc Plated", "Grade 8 Yellow Zinc", "18-8 Stainless Steel", "Plain Steel"),
                ("1/4-20 x 1 in", "5/16-18 x 1-1/4 in", "3/8-16 x 1-1/2 in", "1/2-13 x 2 in",
                 "5/8-11 x 3 in", "M8-1.25 x 30 mm", "M10-1.5 x 40 mm", "M12-1.75 x 50 mm"),
            ), packs=(25, 50, 100)),
            Product("Socket Head Cap Screw", 8, 60, 8, (
                ("Alloy Steel Black Oxide", "316 Stainless Steel"),
                ("#10-32 x 3/4 in", "1/4-20 x 1 in", "5/16-18 x 1-1/2 in", "M6-1.0 x 20 mm", "M8-1.25 x 25 mm"),
            ), packs=(25, 50, 100)),
            Product("Hex Nut", 3, 25, 12, (
                ("Grade 5 Zinc Plated", "Grade 8 Yellow Zinc", "Nylon Insert Lock", "18-8 Stainless Steel"),
                ("1/4-20", "5/16-18", "3/8-16", "1/2-13", "M8-1.25", "M10-1.5"),
            ), packs=(50, 100, 250)),
            Product("Flat Washer", 2, 18, 12, (
                ("SAE Zinc Plated", "USS Hot-Dip Galvanized", "18-8 Stainless Steel"),
                ("1/4 in", "5/16 in", "3/8 in", "1/2 in", "5/8 in"),
            ), packs=(100, 250)),
            Product("Concrete Wedge Anchor", 15, 80, 6, (
                ("Zinc Plated", "Hot-Dip Galvanized", "304 Stainless Steel"),
                ("3/8 x 3 in", "1/2 x 4-1/4 in", "5/8 x 6 in", "3/4 x 7 in"),
            ), packs=(10, 25, 50)),
            Product("Self-Drilling Screw", 6, 35, 10, (
                ("Hex Washer Head", "Pan Head Phillips"),
                ("#8 x 1/2 in", "#10 x 3/4 in", "#12 x 1 in", "#14 x 1-1/2 in"),
            ), packs=(100, 250, 500)),
        ),
    ),
    Family(
        "PPE",
        "PPE",
        share=1.2,
        affinity={"healthcare": 6, "manufacturing": 5, "construction": 4, "food_beverage": 4, "energy": 3, "utilities": 3},
        products=(
            Product("Nitrile Disposable Gloves", 6, 22, 30, (
                ("Powder-Free 4 mil", "Powder-Free 6 mil", "Extended Cuff 8 mil"),
                ("Blue", "Black", "Orange"),
                ("Size S", "Size M", "Size L", "Size XL"),
            ), packs=(100, 50)),
            Product("Cut-Resistant Gloves", 4, 18, 24, (
                ("ANSI A2", "ANSI A3", "ANSI A4"),
                ("Polyurethane Palm", "Nitrile Foam Palm"),
                ("Size 7", "Size 8", "Size 9", "Size 10"),
            ), packs=(12,)),
            Product("N95 Particulate Respirator", 12, 40, 20, (
                ("Cup Style", "Flat Fold", "With Exhalation Valve"),
                ("NIOSH Approved",),
            ), packs=(20, 10), regulated=True),
            Product("Safety Glasses", 2, 12, 24, (
                ("Clear Anti-Fog Lens", "Gray Lens", "Indoor/Outdoor Mirror Lens"),
                ("Wraparound Frame", "Black Frame", "Over-the-Glass"),
                ("ANSI Z87.1+",),
            )),
            Product("Hard Hat", 9, 35, 10, (
                ("Cap Style", "Full Brim"),
                ("White", "Yellow", "Orange", "Blue"),
                ("4-Point Ratchet Suspension", "6-Point Ratchet Suspension"),
            )),
            Product("Hi-Visibility Safety Vest", 4, 20, 12, (
                ("ANSI Class 2", "ANSI Class 3"),
                ("Lime", "Orange"),
                ("Size M", "Size L", "Size XL", "Size 2XL"),
            )),
        ),
    ),
    Family(
        "Safety",
        "SAF",
        affinity={"manufacturing": 3, "construction": 3, "utilities": 3, "energy": 3, "government": 2},
        products=(
            Product("Lockout Padlock", 9, 30, 10, (
                ("Aluminum Body", "Nylon Body", "Steel Body"),
                ("Keyed Different", "Keyed Alike"),
                ("Red", "Blue", "Yellow", "Green"),
            )),
            Product("Lockout Station", 60, 300, 1, (
                ("4-Lock", "10-Lock", "20-Lock"),
                ("Unfilled", "Filled"),
            )),
            Product("Emergency Eyewash Station", 80, 450, 1, (
                ("Portable 16 gal", "Wall Mount Plumbed", "Pedestal Plumbed"),
            )),
            Product("Fall Protection Harness", 45, 260, 2, (
                ("Vest Style", "Construction Style"),
                ("Pass-Thru Buckles", "Quick-Connect Buckles"),
                ("Size M/L", "Size XL", "Universal"),
            )),
            Product("Safety Sign", 5, 40, 6, (
                ("DANGER High Voltage", "CAUTION Wet Floor", "NOTICE Authorized Personnel Only",
                 "Hard Hat Area", "Eye Protection Required", "Fire Extinguisher"),
                ("Aluminum", "Polyethylene", "Vinyl Adhesive"),
                ("10 x 14 in", "7 x 10 in", "14 x 20 in"),
            )),
            Product("Spill Kit", 60, 400, 1, (
                ("Universal", "Oil-Only", "Hazmat"),
                ("5 gal Bucket", "20 gal Drum", "65 gal Overpack"),
            )),
        ),
    ),
    Family(
        "Janitorial",
        "JAN",
        affinity={"healthcare": 4, "education": 5, "government": 4, "food_beverage": 4, "transportation": 2},
        products=(
            Product("Trash Can Liner", 18, 60, 12, (
                ("High-Density 13 mic", "Low-Density 1.5 mil", "Extra Heavy 2 mil"),
                ("33 gal", "45 gal", "56 gal", "60 gal"),
                ("Clear", "Black"),
            ), packs=(250, 100)),
            Product("Multi-Fold Paper Towel", 20, 45, 10, (
                ("White", "Natural"),
                ("1-Ply",),
            ), packs=(4000, 2000)),
            Product("All-Purpose Cleaner Concentrate", 8, 40, 8, (
                ("Neutral pH", "Citrus", "Disinfectant Quaternary"),
                ("1 gal", "2.5 gal"),
            )),
            Product("Hand Soap Refill", 8, 35, 12, (
                ("Foaming", "Antibacterial Foaming", "Lotion"),
                ("1000 mL", "1200 mL"),
            )),
            Product("Microfiber Cleaning Cloth", 8, 30, 10, (
                ("12 x 12 in", "16 x 16 in"),
                ("Blue", "Green", "Yellow", "Red"),
            ), packs=(12, 24)),
            Product("Wet Mop Head", 5, 18, 10, (
                ("Cotton Cut-End", "Rayon Looped-End", "Blended Looped-End"),
                ("16 oz", "24 oz", "32 oz"),
            )),
        ),
    ),
    Family(
        "Medical Consumables",
        "MED",
        affinity={"healthcare": 14, "education": 0.6, "government": 0.6, "manufacturing": 0.1, "construction": 0.1,
                  "utilities": 0.1, "energy": 0.1, "transportation": 0.2, "food_beverage": 0.1},
        products=(
            Product("Nitrile Exam Gloves", 6, 18, 40, (
                ("Powder-Free Textured", "Chemo-Rated Extended Cuff"),
                ("Size S", "Size M", "Size L", "Size XL"),
            ), packs=(200, 100), regulated=True),
            Product("Sterile Gauze Sponge", 8, 30, 20, (
                ("2 x 2 in 8-Ply", "4 x 4 in 12-Ply", "4 x 4 in 16-Ply"),
            ), packs=(100, 50), regulated=True),
            Product("Hypodermic Syringe with Needle", 14, 45, 20, (
                ("1 mL 25G x 5/8 in", "3 mL 23G x 1 in", "5 mL 21G x 1 in", "10 mL 20G x 1 in"),
                ("Luer-Lock", "Safety Needle"),
            ), packs=(100, 50), regulated=True),
            Product("Alcohol Prep Pad", 3, 9, 30, (
                ("Medium 70% Isopropyl", "Large 70% Isopropyl"),
                ("Sterile",),
            ), packs=(200, 100), regulated=True),
            Product("IV Administration Set", 40, 140, 10, (
                ("Primary 15 drops/mL", "Primary 60 drops/mL", "Secondary Piggyback"),
                ("Needle-Free Y-Site",),
            ), packs=(50, 25), regulated=True),
            Product("Procedure Face Mask", 5, 14, 30, (
                ("ASTM Level 1", "ASTM Level 2", "ASTM Level 3"),
                ("Ear Loop", "Tie-On"),
            ), packs=(50,), regulated=True),
            Product("Disposable Isolation Gown", 20, 70, 20, (
                ("AAMI Level 2", "AAMI Level 3"),
                ("Universal Size", "Size XL"),
            ), packs=(50, 10), regulated=True),
        ),
    ),
    Family(
        "Electrical",
        "ELE",
        share=1.6,
        affinity={"construction": 5, "utilities": 5, "manufacturing": 3, "energy": 3, "government": 2},
        products=(
            Product("THHN Building Wire", 40, 380, 3, (
                ("14 AWG Solid", "12 AWG Solid", "10 AWG Stranded", "8 AWG Stranded", "6 AWG Stranded"),
                ("Black", "White", "Red", "Green", "Blue"),
                ("500 ft Spool", "2500 ft Reel"),
            )),
            Product("Miniature Circuit Breaker", 8, 90, 6, (
                ("1-Pole 15 A", "1-Pole 20 A", "2-Pole 30 A", "2-Pole 50 A", "3-Pole 20 A"),
                ("120/240 VAC Plug-On", "277/480 VAC DIN Rail"),
            )),
            Product("Twist-On Wire Connector", 6, 25, 12, (
                ("Yellow 18-12 AWG", "Red 18-10 AWG", "Orange 22-14 AWG", "Gray 22-16 AWG"),
            ), packs=(100, 500)),
            Product("EMT Conduit Connector", 3, 20, 12, (
                ("Set Screw", "Compression"),
                ("1/2 in", "3/4 in", "1 in", "1-1/4 in", "2 in"),
                ("Zinc Die Cast", "Steel"),
            ), packs=(10, 25, 50)),
            Product("Cable Tie", 3, 25, 12, (
                ("4 in 18 lb", "8 in 40 lb", "11 in 50 lb", "14 in 120 lb"),
                ("Natural Nylon", "UV Black Nylon"),
            ), packs=(100, 1000)),
            Product("Duplex Receptacle", 2, 28, 10, (
                ("15 A 125 V", "20 A 125 V", "20 A Tamper-Resistant", "20 A GFCI"),
                ("White", "Ivory", "Gray"),
            )),
        ),
    ),
    Family(
        "Hydraulics",
        "HYD",
        affinity={"manufacturing": 4, "construction": 3, "energy": 4, "transportation": 3, "utilities": 2},
        products=(
            Product("Hydraulic Hose Assembly", 20, 220, 4, (
                ("SAE 100R2AT 1/4 in", "SAE 100R2AT 1/2 in", "SAE 100R12 3/4 in", "SAE 100R1AT 3/8 in"),
                ("JIC 37 deg Female Swivel", "ORFS Female Swivel", "NPT Male"),
                ("24 in", "36 in", "48 in", "72 in"),
            )),
            Product("Hydraulic Adapter Fitting", 3, 40, 10, (
                ("JIC Male x NPT Male", "ORB Male x JIC Male", "90 deg Elbow JIC", "Tee JIC Male"),
                ("-04", "-06", "-08", "-12", "-16"),
                ("Zinc Plated Steel", "316 Stainless Steel"),
            )),
            Product("Hydraulic Return Filter Element", 25, 160, 4, (
                ("10 Micron", "25 Micron", "Beta 1000 Glass"),
                ("Spin-On", "Cartridge"),
            )),
            Product("Tie-Rod Hydraulic Cylinder", 150, 900, 1, (
                ("1-1/2 in Bore", "2 in Bore", "3 in Bore", "4 in Bore"),
                ("6 in Stroke", "12 in Stroke", "24 in Stroke"),
                ("3000 psi",),
            )),
            Product("Quick Disconnect Coupler", 12, 90, 4, (
                ("ISO 7241-A", "ISO 16028 Flat Face"),
                ("1/4 in", "3/8 in", "1/2 in", "3/4 in"),
                ("Male Tip", "Female Body"),
            )),
        ),
    ),
    Family(
        "Pneumatics",
        "PNE",
        affinity={"manufacturing": 5, "food_beverage": 2, "transportation": 2},
        products=(
            Product("Push-to-Connect Fitting", 2, 14, 12, (
                ("Straight Union", "Male Connector NPT", "Elbow 90 deg", "Union Tee"),
                ("4 mm", "6 mm", "1/4 in", "3/8 in", "1/2 in"),
            ), packs=(10,)),
            Product("Polyurethane Tubing", 15, 90, 3, (
                ("1/4 in OD", "3/8 in OD", "1/2 in OD", "8 mm OD"),
                ("Blue", "Black", "Clear"),
                ("100 ft", "500 ft"),
            )),
            Product("Solenoid Valve", 45, 320, 2, (
                ("3/2 Way", "5/2 Way Single", "5/2 Way Double"),
                ("1/4 in NPT", "3/8 in NPT"),
                ("24 VDC", "120 VAC"),
            )),
            Product("Filter Regulator Lubricator", 60, 260, 2, (
                ("1/4 in NPT", "3/8 in NPT", "1/2 in NPT"),
                ("Modular", "Metal Bowl Guard"),
            )),
            Product("Compact Air Cylinder", 35, 220, 2, (
                ("20 mm Bore", "32 mm Bore", "50 mm Bore"),
                ("25 mm Stroke", "50 mm Stroke", "100 mm Stroke"),
            )),
        ),
    ),
    Family(
        "Bearings & Power Transmission",
        "PTB",
        share=1.2,
        affinity={"manufacturing": 5, "food_beverage": 3, "utilities": 2, "energy": 2, "transportation": 2},
        products=(
            Product("Deep Groove Ball Bearing", 4, 70, 6, (
                ("6203", "6204", "6205", "6206", "6305", "6308"),
                ("2RS Sealed", "ZZ Shielded", "Open"),
                ("C3 Clearance", "Normal Clearance"),
            )),
            Product("Mounted Pillow Block Bearing", 20, 160, 3, (
                ("3/4 in Bore", "1 in Bore", "1-3/16 in Bore", "1-7/16 in Bore", "2 in Bore"),
                ("Set Screw Lock", "Eccentric Lock"),
                ("Cast Iron", "Stainless Steel"),
            )),
            Product("V-Belt", 6, 60, 6, (
                ("A", "B", "AX Cogged", "BX Cogged", "3V", "5V"),
                ("Length 38 in", "Length 48 in", "Length 60 in", "Length 75 in", "Length 90 in"),
            )),
            Product("Roller Chain", 25, 220, 2, (
                ("ANSI 40", "ANSI 50", "ANSI 60", "ANSI 80"),
                ("Riveted 10 ft", "Riveted 50 ft"),
                ("Carbon Steel", "Nickel Plated"),
            )),
            Product("Jaw Coupling Hub", 10, 70, 4, (
                ("L-075", "L-095", "L-100", "L-110"),
                ("5/8 in Bore", "7/8 in Bore", "1-1/8 in Bore", "24 mm Bore"),
            )),
        ),
    ),
    Family(
        "Lubricants & Chemicals",
        "CHM",
        affinity={"manufacturing": 4, "transportation": 4, "energy": 3, "construction": 2, "utilities": 2},
        products=(
            Product("Penetrating Lubricant Aerosol", 4, 14, 12, (
                ("11 oz", "16 oz"),
                ("Multi-Purpose", "Rust Release", "Food-Grade H1"),
            ), regulated=True),
            Product("Lithium Complex Grease", 5, 40, 10, (
                ("NLGI 2", "NLGI 1"),
                ("14 oz Cartridge", "35 lb Pail"),
            )),
            Product("Hydraulic Oil AW 46", 30, 120, 4, (
                ("1 gal Jug", "5 gal Pail"),
                ("Anti-Wear", "Zinc-Free"),
            )),
            Product("Parts Cleaner Degreaser", 20, 110, 4, (
                ("Water-Based", "Solvent-Based Non-Chlorinated"),
                ("1 gal", "5 gal"),
            ), regulated=True),
            Product("Brake Cleaner Aerosol", 3, 9, 24, (
                ("Non-Chlorinated", "Chlorinated"),
                ("14 oz",),
            ), regulated=True),
        ),
    ),
    Family(
        "Abrasives",
        "ABR",
        affinity={"manufacturing": 5, "construction": 3, "transportation": 2},
        products=(
            Product("Cut-Off Wheel", 1.5, 8, 25, (
                ("4-1/2 x 0.045 in", "6 x 0.045 in", "14 x 7/64 in"),
                ("Metal", "Stainless Steel", "Masonry"),
                ("Type 1", "Type 27"),
            )),
            Product("Flap Disc", 3, 14, 20, (
                ("4-1/2 in", "5 in", "7 in"),
                ("40 Grit", "60 Grit", "80 Grit", "120 Grit"),
                ("Zirconia", "Ceramic"),
            )),
            Product("Hook and Loop Sanding Disc", 12, 45, 10, (
                ("5 in 8-Hole", "6 in 6-Hole", "6 in Solid"),
                ("80 Grit", "120 Grit", "180 Grit", "220 Grit"),
            ), packs=(50, 100)),
            Product("Depressed Center Grinding Wheel", 3, 15, 20, (
                ("4-1/2 x 1/4 in", "7 x 1/4 in"),
                ("Aluminum Oxide", "Zirconia Blend"),
            )),
        ),
    ),
    Family(
        "Cutting Tools",
        "CUT",
        share=1.2,
        affinity={"manufacturing": 6, "construction": 2, "transportation": 1.5},
        products=(
            Product("Jobber Drill Bit", 2, 30, 10, (
                ("High-Speed Steel Black Oxide", "Cobalt M42", "Titanium Nitride Coated"),
                ("1/8 in", "3/16 in", "1/4 in", "5/16 in", "3/8 in", "1/2 in"),
                ("118 deg Point", "135 deg Split Point"),
            )),
            Product("Carbide End Mill", 18, 140, 4, (
                ("2 Flute", "3 Flute", "4 Flute"),
                ("1/8 in", "1/4 in", "3/8 in", "1/2 in", "3/4 in"),
                ("Square End", "Ball End", "Corner Radius"),
                ("Uncoated", "AlTiN Coated"),
            )),
            Product("Spiral Point Tap", 10, 60, 4, (
                ("1/4-20", "5/16-18", "3/8-16", "1/2-13", "M6-1.0", "M8-1.25"),
                ("Plug Chamfer", "Bottoming Chamfer"),
                ("HSS Bright", "HSS-E TiN"),
            )),
            Product("Bi-Metal Band Saw Blade", 25, 140, 3, (
                ("93 in x 3/4 in", "133 in x 1 in", "164 in x 1-1/4 in"),
                ("6/10 TPI", "10/14 TPI", "4/6 TPI"),
            )),
            Product("Reciprocating Saw Blade", 8, 40, 6, (
                ("6 in 14 TPI Metal", "9 in 6 TPI Demolition", "12 in 5 TPI Wood"),
            ), packs=(5, 10)),
        ),
    ),
    Family(
        "Hand Tools",
        "HTL",
        affinity={"construction": 4, "manufacturing": 3, "utilities": 3, "transportation": 2},
        products=(
            Product("Combination Wrench", 5, 40, 3, (
                ("12-Point", "6-Point"),
                ("3/8 in", "7/16 in", "1/2 in", "9/16 in", "3/4 in", "10 mm", "13 mm", "17 mm"),
                ("Chrome Vanadium",),
            )),
            Product("Screwdriver Set", 15, 90, 2, (
                ("6-Piece", "10-Piece", "1000 V Insulated 7-Piece"),
                ("Phillips and Slotted",),
            )),
            Product("Linesman Pliers", 18, 70, 3, (
                ("8 in", "9 in"),
                ("Dipped Grip", "1000 V Insulated", "Comfort Grip"),
            )),
            Product("Ratchet Socket Set", 40, 280, 1, (
                ("1/4 in Drive", "3/8 in Drive", "1/2 in Drive"),
                ("SAE", "Metric", "SAE and Metric"),
                ("20-Piece", "42-Piece"),
            )),
            Product("Utility Knife", 4, 20, 8, (
                ("Retractable", "Fixed Blade", "Auto-Retracting Safety"),
                ("Aluminum Body", "Composite Body"),
            )),
        ),
    ),
    Family(
        "Power Tools",
        "PTL",
        share=0.6,
        affinity={"construction": 5, "manufacturing": 2, "utilities": 2, "government": 1.5},
        products=(
            Product("Cordless Drill Driver", 70, 260, 1, (
                ("18 V", "20 V Max", "12 V"),
                ("Brushless", "Brushed"),
                ("Tool Only", "Kit with 2 Batteries"),
            )),
            Product("Angle Grinder", 55, 240, 1, (
                ("4-1/2 in", "5 in", "7 in"),
                ("Corded 11 A", "Cordless 20 V Tool Only"),
                ("Paddle Switch", "Slide Switch"),
            )),
            Product("Lithium-Ion Battery Pack", 45, 180, 2, (
                ("18 V 2.0 Ah", "18 V 5.0 Ah", "20 V 6.0 Ah", "12 V 3.0 Ah"),
            )),
            Product("Impact Driver", 80, 240, 1, (
                ("1/4 in Hex", "1/2 in Square Drive"),
                ("20 V Brushless Tool Only", "18 V Kit"),
            )),
        ),
    ),
    Family(
        "Plumbing",
        "PLB",
        affinity={"construction": 5, "government": 3, "education": 3, "healthcare": 2, "utilities": 2},
        products=(
            Product("Ball Valve", 6, 140, 4, (
                ("1/2 in", "3/4 in", "1 in", "1-1/2 in", "2 in"),
                ("Lead-Free Brass FNPT", "Stainless Steel FNPT", "PVC Socket"),
                ("Full Port", "Standard Port"),
            )),
            Product("PVC Schedule 40 Fitting", 1, 18, 12, (
                ("90 deg Elbow", "Tee", "Coupling", "Female Adapter"),
                ("1/2 in", "3/4 in", "1 in", "2 in", "3 in", "4 in"),
            )),
            Product("Copper Press Fitting", 4, 60, 8, (
                ("Coupling", "90 deg Elbow", "Tee"),
                ("1/2 in", "3/4 in", "1 in", "1-1/4 in"),
            )),
            Product("Faucet Cartridge", 12, 60, 4, (
                ("Single Handle", "Two Handle Hot", "Two Handle Cold"),
                ("Ceramic Disc",),
            )),
        ),
    ),
    Family(
        "HVAC & Filtration",
        "HVF",
        affinity={"healthcare": 3, "education": 4, "government": 4, "food_beverage": 2, "manufacturing": 2},
        products=(
            Product("Pleated Air Filter", 3, 18, 24, (
                ("MERV 8", "MERV 11", "MERV 13"),
                ("16 x 20 x 2 in", "20 x 20 x 2 in", "20 x 25 x 2 in", "24 x 24 x 2 in", "20 x 25 x 4 in"),
            )),
            Product("Bag Air Filter", 25, 90, 6, (
                ("MERV 14 8-Pocket", "MERV 13 6-Pocket"),
                ("24 x 24 x 22 in", "12 x 24 x 22 in"),
            )),
            Product("Condenser Fan Motor", 60, 320, 1, (
                ("1/4 hp", "1/3 hp", "1/2 hp", "1 hp"),
                ("1075 rpm", "825 rpm"),
                ("208-230 V",),
            )),
            Product("Run Capacitor", 6, 35, 4, (
                ("5 MFD", "10 MFD", "35/5 MFD", "45/5 MFD", "55/5 MFD"),
                ("370 V", "440 V"),
            )),
        ),
    ),
    Family(
        "Lighting",
        "LGT",
        affinity={"government": 3, "education": 3, "construction": 3, "healthcare": 2, "utilities": 2},
        products=(
            Product("LED T8 Tube Lamp", 4, 14, 25, (
                ("4 ft 15 W", "4 ft 12 W", "2 ft 9 W"),
                ("3500 K", "4000 K", "5000 K"),
                ("Ballast Bypass", "Ballast Compatible"),
            )),
            Product("LED High Bay Fixture", 90, 320, 2, (
                ("100 W", "150 W", "240 W"),
                ("4000 K", "5000 K"),
                ("0-10 V Dimming", "Motion Sensor"),
            )),
            Product("LED Wall Pack", 50, 220, 2, (
                ("30 W", "60 W", "100 W"),
                ("Photocell", "No Photocell"),
                ("Bronze",),
            )),
            Product("LED A19 Lamp", 1.5, 6, 24, (
                ("60 W Equivalent", "100 W Equivalent"),
                ("2700 K", "3000 K", "5000 K"),
                ("Dimmable", "Non-Dimmable"),
            )),
        ),
    ),
    Family(
        "Welding",
        "WLD",
        affinity={"manufacturing": 5, "construction": 3, "energy": 3, "transportation": 1.5},
        products=(
            Product("MIG Welding Wire", 25, 140, 3, (
                ("ER70S-6", "ER308L Stainless", "ER4043 Aluminum"),
                ("0.030 in", "0.035 in", "0.045 in"),
                ("11 lb Spool", "33 lb Spool"),
            )),
            Product("Stick Electrode", 20, 110, 3, (
                ("E6010", "E6011", "E7018"),
                ("1/8 in", "5/32 in", "3/32 in"),
                ("10 lb Can", "50 lb Can"),
            )),
            Product("MIG Contact Tip", 5, 25, 8, (
                ("0.030 in", "0.035 in", "0.045 in"),
                ("Copper", "Chrome Zirconium"),
            ), packs=(10, 25)),
            Product("Auto-Darkening Welding Helmet", 60, 320, 1, (
                ("Shade 9-13", "Shade 5-13 True Color"),
                ("Black", "Graphics"),
            )),
            Product("Anti-Spatter Aerosol", 4, 12, 12, (
                ("16 oz",),
                ("Water-Based", "Solvent-Based"),
            ), regulated=True),
        ),
    ),
    Family(
        "Adhesives & Sealants",
        "ADH",
        affinity={"manufacturing": 4, "construction": 3, "transportation": 2},
        products=(
            Product("Threadlocker", 8, 40, 6, (
                ("Medium Strength Blue", "High Strength Red", "Low Strength Purple"),
                ("10 mL", "50 mL", "250 mL"),
            )),
            Product("Two-Part Epoxy Adhesive", 8, 45, 6, (
                ("5 Minute Set", "30 Minute Set", "Metal Filled"),
                ("0.85 oz Syringe", "1.7 oz Cartridge"),
            )),
            Product("Silicone Sealant", 4, 14, 12, (
                ("RTV High Temp Red", "General Purpose Clear", "Sanitary White"),
                ("10.1 oz Cartridge", "3 oz Tube"),
            )),
            Product("Duct Tape", 4, 14, 24, (
                ("Silver", "Black", "Heavy Duty Gray"),
                ("1.88 in x 60 yd", "2.83 in x 60 yd"),
            )),
            Product("Contact Adhesive", 10, 60, 4, (
                ("Spray 17 oz", "Brush-On 1 qt", "Bulk 1 gal"),
            ), regulated=True),
        ),
    ),
    Family(
        "Packaging",
        "PKG",
        affinity={"food_beverage": 5, "manufacturing": 4, "transportation": 4, "healthcare": 1.5},
        products=(
            Product("Stretch Wrap Film", 18, 60, 6, (
                ("Hand Wrap 18 in x 1500 ft", "Machine Wrap 20 in x 5000 ft"),
                ("60 Gauge", "80 Gauge", "Cast Clear"),
            ), packs=(4, 1)),
            Product("Corrugated Shipping Box", 18, 90, 8, (
                ("8 x 6 x 4 in", "12 x 12 x 12 in", "18 x 12 x 12 in", "24 x 18 x 18 in"),
                ("200 lb ECT-32", "275 lb ECT-44"),
            ), packs=(25, 50)),
            Product("Carton Sealing Tape", 12, 50, 12, (
                ("2 in x 110 yd", "3 in x 110 yd"),
                ("Clear 2 mil", "Tan 1.9 mil", "Clear 3 mil"),
            ), packs=(36, 6)),
            Product("Poly Strapping", 40, 120, 3, (
                ("1/2 in x 7200 ft", "5/8 in x 6000 ft"),
                ("Black", "White"),
            )),
        ),
    ),
    Family(
        "Material Handling",
        "MHE",
        share=0.7,
        affinity={"manufacturing": 3, "food_beverage": 3, "transportation": 3, "government": 1.5},
        products=(
            Product("Swivel Plate Caster", 10, 80, 4, (
                ("4 in", "5 in", "6 in", "8 in"),
                ("Polyurethane Wheel", "Rubber Wheel", "Phenolic Wheel"),
                ("With Brake", "No Brake"),
            )),
            Product("Convertible Hand Truck", 120, 420, 1, (
                ("600 lb", "800 lb", "1000 lb"),
                ("Pneumatic Tires", "Solid Tires"),
            )),
            Product("Steel Shelving Unit", 110, 520, 1, (
                ("36 x 18 x 72 in", "48 x 24 x 84 in", "72 x 24 x 84 in"),
                ("5-Shelf", "4-Shelf"),
                ("Boltless", "Clip Style"),
            )),
            Product("Plastic Storage Bin", 2, 20, 12, (
                ("Small 4 x 7 x 3 in", "Medium 11 x 5 x 5 in", "Large 15 x 8 x 7 in"),
                ("Blue", "Red", "Yellow", "Gray"),
            )),
        ),
    ),
    Family(
        "Test & Measurement",
        "TST",
        share=0.6,
        affinity={"utilities": 4, "manufacturing": 3, "energy": 3, "construction": 2, "healthcare": 1.5},
        products=(
            Product("Digital Multimeter", 30, 420, 1, (
                ("True RMS CAT III 600 V", "True RMS CAT IV 600 V", "Auto-Ranging CAT II"),
                ("Standard", "With Temperature Probe"),
            )),
            Product("Clamp Meter", 45, 360, 1, (
                ("400 A AC", "600 A AC/DC", "1000 A AC/DC"),
                ("True RMS",),
            )),
            Product("Pressure Gauge", 8, 90, 4, (
                ("0-100 psi", "0-300 psi", "0-1000 psi", "0-3000 psi"),
                ("2-1/2 in Dial", "4 in Dial"),
                ("Liquid Filled", "Dry"),
            )),
            Product("Infrared Thermometer", 30, 210, 1, (
                ("12:1 Distance Ratio", "30:1 Distance Ratio"),
                ("-58 to 1022 F", "-58 to 1832 F"),
            )),
        ),
    ),
)

FAMILY_NAMES: tuple[str, ...] = tuple(family.name for family in FAMILIES)


def family_index(name: str) -> int:
    """Return the position of the named family in FAMILIES; raise KeyError for an unknown name."""
    for index, family in enumerate(FAMILIES):
        if family.name == name:
            return index
    raise KeyError(name)
