"""Vocabularies for synthetic people: names, streets and towns, most common first.

Values are drawn with Zipf-like weights (`zipf_weights`), so a few names are common and
most are rare, as in real registers: a shared "Jansen" is weak evidence, a shared
"Zwolsman" strong. Names mix Dutch, English and other European and world spellings.
"""

from __future__ import annotations

FEMALE = (
    "Anna", "Emma", "Sophie", "Julia", "Lisa", "Sanne", "Eva", "Laura", "Fleur", "Lotte",
    "Maria", "Sarah", "Anne", "Iris", "Noor", "Femke", "Esther", "Linda", "Marieke", "Ingrid",
    "Monique", "Sandra", "Petra", "Wendy", "Karin", "Nicole", "Kim", "Manon", "Charlotte",
    "Elise", "Hanna", "Mila", "Tess", "Zoe", "Sara", "Isabel", "Amber", "Britt", "Demi",
    "Floor", "Jasmijn", "Lieke", "Maud", "Nina", "Roos", "Vera", "Yara", "Lynn", "Evi",
    "Margaret", "Elizabeth", "Jennifer", "Susan", "Jessica", "Emily", "Olivia", "Grace",
    "Chloe", "Lucy", "Hannah", "Rebecca", "Rachel", "Catherine", "Helen", "Victoria",
    "Fatima", "Aisha", "Priya", "Mei", "Olga", "Sofia", "Yasmin", "Leila", "Ana", "Ines",
    "Marta", "Agnieszka", "Katarzyna", "Elena", "Irina", "Natalia", "Giulia", "Chiara",
    "Francesca", "Camille", "Manon", "Amelie", "Greta", "Johanna", "Katharina", "Ilse",
    "Wilhelmina", "Geertruida", "Hendrika", "Cornelia", "Johanna", "Aaltje", "Trijntje",
    "Riet", "Truus", "Annemarie", "Mariska", "Dewi", "Sevda", "Zeynep", "Nour", "Amira",
    "Chantal", "Naomi", "Priscilla", "Shanti", "Rukhsana", "Ngozi", "Abena", "Thandiwe",
)
MALE = (
    "Jan", "Daan", "Sem", "Lucas", "Thijs", "Bram", "Ruben", "Jeroen", "Pieter", "Willem",
    "Kees", "Henk", "Joost", "Mark", "Dennis", "Martijn", "Bas", "Tim", "Tom", "Stijn",
    "Niels", "Rick", "Sander", "Jasper", "Koen", "Wouter", "Erik", "Frank", "Hans", "Gerard",
    "Johannes", "Cornelis", "Hendrik", "Jacobus", "Gerrit", "Dirk", "Klaas", "Arie", "Teun",
    "Finn", "Levi", "Milan", "Noah", "Jesse", "Luuk", "Max", "Mees", "Siem", "Olivier",
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Thomas", "Daniel",
    "Matthew", "Andrew", "Joseph", "Christopher", "George", "Edward", "Samuel", "Benjamin",
    "Mohamed", "Ahmed", "Yusuf", "Omar", "Mustafa", "Hamza", "Arjun", "Rahul", "Wei",
    "Kwame", "Mateo", "Diego", "Pablo", "Lukas", "Jonas", "Felix", "Maximilian", "Piotr",
    "Tomasz", "Marek", "Dmitri", "Sergei", "Alessandro", "Marco", "Luca", "Giovanni",
    "Pierre", "Antoine", "Hugo", "Louis", "Jurgen", "Wolfgang", "Stefan", "Anton",
    "Bart", "Rutger", "Maarten", "Floris", "Gijs", "Job", "Ivo", "Roel", "Vincent", "Youssef",
    "Ibrahim", "Emre", "Burak", "Kofi", "Chinedu", "Tariq", "Imran", "Ravi", "Hiroshi",
)
_SURNAME_BASES = (
    "Jansen", "de Jong", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
    "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
    "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits",
    "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn", "de Bruin", "van der Heijden",
    "Schouten", "van Beek", "Willems", "van Vliet", "van de Ven", "Hoekstra", "Maas",
    "Verhoeven", "Koster", "van Dam", "van der Wal", "Prins", "Blom", "Huisman", "Peeters",
    "de Lange", "Kuipers", "van Wijk", "Post", "Kuiper", "Veenstra", "Kramer", "van den Brink",
    "Scholten", "van Wijngaarden", "Martens", "Vonk", "Timmermans", "Groen", "Gerritsen",
    "Bosman", "Wolters", "Zwolsman", "Hofstede", "Lammers", "Brink", "Evers", "Wouters",
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
    "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King",
    "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis",
    "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter",
    "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards",
    "Yilmaz", "Kaya", "Demir", "Sahin", "Celik", "Ozturk", "El Amrani", "Benali", "Bouzid",
    "El Idrissi", "Haddou", "Sharma", "Singh", "Kumar", "Gupta", "Nguyen", "Tran", "Chen",
    "Wang", "Li", "Zhang", "Kim", "Park", "Mensah", "Owusu", "Boateng", "Okafor", "Adeyemi",
    "Garcia", "Rodriguez", "Fernandez", "Lopez", "Martinez", "Gonzalez", "Perez", "Sanchez",
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Muller", "Schmidt",
    "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Kowalski",
    "Nowak", "Wisniewski", "Wojcik", "Kowalczyk", "Ivanov", "Ivanova", "Petrov", "Popescu",
    "Dubois", "Lefebvre", "Moreau", "Laurent", "Simon", "Michel", "Leroy", "Roux", "Fournier",
    "Andersen", "Nielsen", "Hansen", "Pedersen", "Larsen", "Johansson", "Karlsson",
    "Nilsson", "Eriksson", "Virtanen", "Korhonen", "Horvath", "Nagy", "Novak", "Silva",
    "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Almeida", "Papadopoulos",
    "Haverkamp", "Oosterhuis", "Stoffels", "Terpstra", "Wijnands", "Ketelaar", "Molenaar",
    "Schipper", "Zijlstra", "Rietveld", "Hermans", "Bouwman", "Claassen", "Driessen",
    "Franken", "Geurts", "Hermsen", "IJzerman", "Jongeling", "Koopmans", "Leenders",
    "Mertens", "Nijhuis", "Overbeek", "Pronk", "Quist", "Roelofs", "Steenbergen", "Tuinstra",
    "Uiterwijk", "Vogelaar", "Westerhof", "Ypma", "Zandbergen", "Achterberg", "Bloemendaal",
)
# The long tail: Dutch compound surnames (a place word, a preposition, an ending), each
# borne by few people, as most surnames are.
_ROOTS = ("Berg", "Bos", "Veen", "Broek", "Horst", "Kamp", "Dijk", "Heuvel", "Hof", "Meer",
          "Wijk", "Haar", "Brink", "Hout", "Water", "Molen", "Steen", "Wolde", "Velde", "Donk",
          "Hage", "Voort", "Linde", "Beek", "Zand", "Burg", "Leeuw", "Vliet", "Akker", "Weerd",
          "Holt", "Laar", "Loo", "Rade", "Schot", "Sloot", "Straat", "Tuin", "Venne", "Wiel")
_ENDINGS = ("", "man", "s", "ink", "ing", "stra", "sma", "huis", "er", "kamp", "ema", "werf")
_PREPOSITIONS = ("", "van ", "van den ", "van der ", "ten ", "ter ")
_TAIL = tuple(f"{p}{r}{e}" for e in _ENDINGS for r in _ROOTS for p in _PREPOSITIONS
              if not (p and e))
SURNAMES = tuple(dict.fromkeys((*_SURNAME_BASES, *_TAIL)))
STREETS = (
    "Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Prinsengracht", "Lindenlaan",
    "Julianastraat", "Wilhelminastraat", "Schoolstraat", "Beatrixlaan", "Nieuwstraat",
    "Kastanjelaan", "Oranjestraat", "Parkweg", "Havenstraat", "Vondelstraat", "Hoofdstraat",
    "Marktstraat", "Emmastraat", "Eikenlaan", "Beukenlaan", "Berkenlaan", "Sportlaan",
    "Industrieweg", "Raadhuisstraat", "Burgemeester de Withstraat", "Koningin Emmalaan",
    "Van Goghstraat", "Rembrandtlaan", "Vermeerstraat", "Spoorstraat", "Dijkweg", "Zuiderweg",
    "Noorderweg", "Oosterstraat", "Westerstraat", "Keizersgracht", "Herengracht", "Singel",
    "Damrak", "Rokin", "Lijnbaan", "Coolsingel", "Oudegracht", "Grote Markt", "Brink",
    "Mill Road", "High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane",
    "Park Avenue", "Kings Road", "Queens Road", "Manor Road", "Rosebery Hill", "Ashcroft Crescent",
)
CITIES = (
    ("Amsterdam", 1011, 1109), ("Rotterdam", 3011, 3089), ("Den Haag", 2491, 2597),
    ("Utrecht", 3511, 3585), ("Eindhoven", 5611, 5658), ("Groningen", 9711, 9747),
    ("Tilburg", 5011, 5049), ("Almere", 1311, 1364), ("Breda", 4811, 4839),
    ("Nijmegen", 6511, 6546), ("Apeldoorn", 7311, 7339), ("Haarlem", 2011, 2037),
    ("Arnhem", 6811, 6846), ("Enschede", 7511, 7548), ("Amersfoort", 3811, 3829),
    ("Zaandam", 1501, 1509), ("Den Bosch", 5211, 5237), ("Haarlemmermeer", 2131, 2158),
    ("Zwolle", 8011, 8043), ("Leiden", 2311, 2334), ("Maastricht", 6211, 6229),
    ("Dordrecht", 3311, 3329), ("Zoetermeer", 2711, 2729), ("Delft", 2611, 2629),
    ("Alkmaar", 1811, 1829), ("Leeuwarden", 8911, 8939), ("Deventer", 7411, 7429),
    ("Hilversum", 1211, 1223), ("Heerlen", 6411, 6419), ("Gouda", 2801, 2809),
)
EMAIL_DOMAINS = ("gmail.example", "hotmail.example", "outlook.example", "ziggo.example",
                 "kpn.example", "yahoo.example", "icloud.example", "live.example")


def zipf_weights(n: int, offset: float = 4.0) -> tuple[float, ...]:
    """1 / (rank + offset): the first values are common, the tail is long."""
    return tuple(1.0 / (rank + offset) for rank in range(n))
