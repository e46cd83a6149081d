"""Word lists of the demo world: names, places, catalogue lines, carriers and Wawi master-data labels.

Data only, kept apart from :mod:`jtl_automator.sandbox.generator` so the generator reads as logic. The
generator draws from these tuples by position with a seeded ``random.Random``: changing an entry, its
position or a tuple's length changes every world generated after it, so append-only edits are not safe
either. ``tests/sandbox/test_generator.py`` pins the generated worlds.
"""

from __future__ import annotations

from typing import NamedTuple


class CatalogLine(NamedTuple):
    """One product line: a Wawi subcategory whose items are ``base variant size`` names."""

    code: str  # SKU prefix, e.g. "KAF-10001"
    category: str  # top-level Wawi category
    subcategory: str  # Wawi subcategory and FFN productGroup
    base_names: tuple[str, ...]
    variants: tuple[str, ...]
    sizes: tuple[str, ...]
    net_price: tuple[float, float]  # EUR range before shop-like rounding
    weight_kg: tuple[float, float]
    tax_rate: float
    manufacturers: tuple[str, ...]


class WarehouseSite(NamedTuple):
    """Address of an FFN fulfillment centre."""

    zip_code: str
    city: str
    name: str
    street: str


class ShippingMethodSpec(NamedTuple):
    """A carrier service, known to FFN (by id suffix) and to Wawi (by int id)."""

    ffn_suffix: str
    name: str
    shipping_type: str
    carrier_code: str
    carrier_name: str
    tracking_url_schema: str | None
    wawi_id: int
    wawi_gross_price: float


class PaymentMethodSpec(NamedTuple):
    """A Wawi payment method (ids 2 and 3 are special: prepayment and invoice)."""

    wawi_id: int
    name: str
    is_standard: bool


class OnHoldReasonSpec(NamedTuple):
    """A Wawi on-hold reason (id 3 is the customer-question hold the generator sets)."""

    wawi_id: int
    name: str


CATALOG: tuple[CatalogLine, ...] = (
    CatalogLine(
        "KAF",
        "Lebensmittel",
        "Kaffee & Tee",
        (
            "Bio-Kaffeebohnen",
            "Espressobohnen",
            "Filterkaffee gemahlen",
            "Grüner Tee",
            "Kräutertee",
            "Rooibos-Tee",
            "Earl Grey Tee",
            "Entkoffeinierter Kaffee",
        ),
        ("Hausmischung", "Crema", "Dunkle Röstung", "Fairtrade", "Klassik", "Single Origin"),
        ("250 g", "500 g", "1 kg"),
        (4.5, 29.0),
        (0.25, 1.1),
        7.0,
        ("Rösterei Hansen", "Teekontor Bremen"),
    ),
    CatalogLine(
        "KUE",
        "Küche & Haushalt",
        "Küchenhelfer",
        (
            "Edelstahl-Trinkflasche",
            "Thermobecher",
            "Brotdose",
            "Schneidebrett Bambus",
            "Gewürzmühle",
            "Kochmesser",
            "Pfannenwender Silikon",
            "Vorratsglas",
        ),
        ("Schwarz", "Mintgrün", "Edelstahl", "Anthrazit", "Natur", "Rot"),
        ("350 ml", "500 ml", "750 ml", "1 l", "2er-Set"),
        (6.0, 49.0),
        (0.1, 1.4),
        19.0,
        ("Nordhaus", "KüchenProfi Werke", "Lindner Haushaltswaren"),
    ),
    CatalogLine(
        "DRO",
        "Drogerie",
        "Körperpflege",
        (
            "Naturkosmetik Handcreme",
            "Duschgel Lavendel",
            "Zahnbürste Bambus",
            "Haarseife",
            "Sonnencreme LSF 50",
            "Deo-Creme",
        ),
        ("sensitiv", "vegan", "Familienpackung", "Reisegröße"),
        ("50 ml", "100 ml", "200 ml", "4er-Pack"),
        (2.5, 19.0),
        (0.05, 0.6),
        19.0,
        ("Alpenkraut Naturkosmetik", "Grünblatt"),
    ),
    CatalogLine(
        "GAR",
        "Haus & Garten",
        "Garten",
        ("Gartenschere", "Pflanzkübel", "Vogelfutterhaus", "Gießkanne", "Kräutersamen-Set", "Hochbeet-Erde"),
        ("Terracotta", "Verzinkt", "Holz", "Grau"),
        ("5 l", "10 l", "20 l", "Größe M", "Größe L"),
        (5.0, 89.0),
        (0.2, 12.0),
        19.0,
        ("GartenGlück", "Wurzelwerk GmbH"),
    ),
    CatalogLine(
        "SPO",
        "Sport & Freizeit",
        "Fitness",
        ("Yogamatte", "Springseil", "Faszienrolle", "Trinkrucksack", "Widerstandsband", "Kettlebell"),
        ("Blau", "Schwarz", "Lila", "Olivgrün"),
        ("Standard", "XL", "4 kg", "8 kg", "2 m"),
        (8.0, 69.0),
        (0.2, 8.0),
        19.0,
        ("Sportfreund", "AktivLeben"),
    ),
    CatalogLine(
        "BUE",
        "Büro & Schreibwaren",
        "Schreibwaren",
        (
            "Notizbuch A5 punktiert",
            "Kugelschreiber-Set",
            "Textmarker",
            "Aktenordner",
            "Haftnotizen",
            "Schreibtischunterlage",
        ),
        ("recycelt", "Pastell", "Neon", "Klassik"),
        ("5er-Pack", "10er-Pack", "A4", "A5"),
        (1.5, 24.0),
        (0.05, 1.5),
        19.0,
        ("Papeterie Becker", "Schreibgut"),
    ),
    CatalogLine(
        "SPI",
        "Spielwaren",
        "Holzspielzeug",
        (
            "Holzeisenbahn Starterset",
            "Stapelturm",
            "Puzzle 1000 Teile",
            "Memo-Spiel",
            "Kaufladen-Zubehör",
            "Bauklötze",
        ),
        ("Natur", "Bunt", "Ab 3 Jahren", "Ab 6 Jahren"),
        ("24 Teile", "50 Teile", "100 Teile", "Standard"),
        (7.0, 59.0),
        (0.1, 2.5),
        19.0,
        ("Holzwerkstatt Erzgebirge", "Spielzeugmacher"),
    ),
)

FIRST_NAMES = (
    "Anna",
    "Lukas",
    "Marie",
    "Leon",
    "Sophie",
    "Jonas",
    "Emma",
    "Felix",
    "Mia",
    "Paul",
    "Lena",
    "Maximilian",
    "Hannah",
    "Tim",
    "Laura",
    "Jan",
    "Lea",
    "Niklas",
    "Julia",
    "Finn",
    "Sarah",
    "Moritz",
    "Katharina",
    "Tobias",
    "Johanna",
    "Florian",
    "Clara",
    "Sebastian",
    "Nele",
    "Matthias",
    "Ida",
    "Stefan",
    "Greta",
    "Jürgen",
    "Sabine",
    "Uwe",
    "Birgit",
    "Özlem",
    "Mehmet",
    "Ana",
)
LAST_NAMES = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Yilmaz",
    "Kaya",
    "Nowak",
    "Jansen",
    "de Vries",
    "Huber",
    "Gruber",
)
DE_STREETS = (
    "Hauptstraße",
    "Schulstraße",
    "Gartenstraße",
    "Bahnhofstraße",
    "Dorfstraße",
    "Bergstraße",
    "Birkenweg",
    "Lindenstraße",
    "Kirchstraße",
    "Waldstraße",
    "Ringstraße",
    "Am Markt",
    "Mühlenweg",
    "Goethestraße",
    "Schillerstraße",
    "Friedrichstraße",
    "Rosenweg",
    "Eichendorffstraße",
)
# (postcode prefix, city, state)
DE_CITIES: tuple[tuple[str, str, str], ...] = (
    ("10", "Berlin", "Berlin"),
    ("20", "Hamburg", "Hamburg"),
    ("80", "München", "Bayern"),
    ("50", "Köln", "Nordrhein-Westfalen"),
    ("60", "Frankfurt am Main", "Hessen"),
    ("70", "Stuttgart", "Baden-Württemberg"),
    ("40", "Düsseldorf", "Nordrhein-Westfalen"),
    ("04", "Leipzig", "Sachsen"),
    ("01", "Dresden", "Sachsen"),
    ("30", "Hannover", "Niedersachsen"),
    ("90", "Nürnberg", "Bayern"),
    ("28", "Bremen", "Bremen"),
    ("24", "Kiel", "Schleswig-Holstein"),
    ("99", "Erfurt", "Thüringen"),
    ("66", "Saarbrücken", "Saarland"),
    ("18", "Rostock", "Mecklenburg-Vorpommern"),
    ("39", "Magdeburg", "Sachsen-Anhalt"),
    ("14", "Potsdam", "Brandenburg"),
    ("55", "Mainz", "Rheinland-Pfalz"),
    ("93", "Regensburg", "Bayern"),
)
# (postcode, city)
AT_CITIES: tuple[tuple[str, str], ...] = (
    ("1010", "Wien"),
    ("8010", "Graz"),
    ("4020", "Linz"),
    ("5020", "Salzburg"),
    ("6020", "Innsbruck"),
)
CH_CITIES: tuple[tuple[str, str], ...] = (
    ("8001", "Zürich"),
    ("3011", "Bern"),
    ("4051", "Basel"),
    ("6003", "Luzern"),
)
# (postcode digits, city): the two letters are drawn from NL_POSTCODE_LETTERS
NL_CITIES: tuple[tuple[str, str], ...] = (
    ("1012", "Amsterdam"),
    ("3011", "Rotterdam"),
    ("3511", "Utrecht"),
    ("9711", "Groningen"),
)
NL_STREETS = ("Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Prinsengracht")
AT_CH_STREETS = ("Bahnhofstrasse", "Hauptplatz", "Seestrasse", "Kirchgasse")

# Supplier names: stem + legal form (a second round gets a number appended to the stem).
SUPPLIER_STEMS = (
    "Kaffeerösterei Hansen",
    "Nordhaus Haushaltswaren",
    "Alpenkraut Naturkosmetik",
    "GartenGlück Vertrieb",
    "Sportfreund Handels",
    "Papeterie Becker",
    "Holzwerkstatt Erzgebirge",
    "Teekontor Bremen",
    "Lindner Import",
    "Wurzelwerk",
    "KüchenProfi Werke",
    "Grünblatt Handel",
)
LEGAL_FORMS = ("GmbH", "KG", "GmbH & Co. KG", "e.K.", "OHG")

# FFN warehouses cycle through these sites; a second round gets a number appended to the name.
FFN_WAREHOUSE_SITES = (
    WarehouseSite("04109", "Leipzig", "Fulfillment Center Leipzig", "Logistikring 4"),
    WarehouseSite("36251", "Bad Hersfeld", "Fulfillment Center Bad Hersfeld", "Am Hohen Rain 12"),
    WarehouseSite("44145", "Dortmund", "Fulfillment Center Dortmund", "Hafenstraße 80"),
    WarehouseSite("86167", "Augsburg", "Fulfillment Center Augsburg", "Industriestraße 21"),
)

SHIPPING_METHODS = (
    ShippingMethodSpec(
        "0001",
        "DHL Paket",
        "Standard",
        "DHL",
        "DHL Paket GmbH",
        "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={TrackingId}",
        1,
        4.90,
    ),
    ShippingMethodSpec(
        "0002",
        "DHL Express",
        "NextDay",
        "DHLEXPRESS",
        "DHL Express",
        "https://www.dhl.com/de-de/home/tracking.html?tracking-id={TrackingId}",
        2,
        12.90,
    ),
    ShippingMethodSpec(
        "0003",
        "DPD Classic",
        "Standard",
        "DPD",
        "DPD Deutschland GmbH",
        "https://tracking.dpd.de/status/de_DE/parcel/{TrackingId}",
        3,
        4.90,
    ),
    ShippingMethodSpec(
        "0004",
        "GLS BusinessParcel",
        "Standard",
        "GLS",
        "GLS Germany",
        "https://gls-group.com/DE/de/paketverfolgung?match={TrackingId}",
        4,
        4.50,
    ),
    ShippingMethodSpec(
        "0005", "Deutsche Post Warenpost", "Standard", "DPAG", "Deutsche Post AG", None, 5, 2.90
    ),
)
PAYMENT_METHODS = (
    PaymentMethodSpec(1, "PayPal", True),
    PaymentMethodSpec(2, "Vorkasse", False),
    PaymentMethodSpec(3, "Rechnung", False),
    PaymentMethodSpec(4, "Kreditkarte", False),
    PaymentMethodSpec(5, "Amazon Pay", False),
    PaymentMethodSpec(6, "Klarna Sofort", False),
)
ON_HOLD_REASONS = (
    OnHoldReasonSpec(1, "Zahlung ausstehend"),
    OnHoldReasonSpec(2, "Adresse prüfen"),
    OnHoldReasonSpec(3, "Kundenrückfrage"),
    OnHoldReasonSpec(4, "Warte auf Ware"),
)

# Small vocabularies drawn inline by the generator (order matters as above).
SALUTATIONS: tuple[str | None, ...] = ("Herr", "Frau", None)
INITIAL_CONTACTS = ("Onlineshop", "Amazon", "eBay", "Telefon")
EMAIL_TLDS = ("com", "org", "net")
NL_POSTCODE_LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"
