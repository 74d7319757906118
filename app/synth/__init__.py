"""Synthetic people and their records, with ground truth, in shapes of one's choosing:
data to develop and measure matching against (`idgraph bench match --dataset synth:SHAPE`),
and the cast of `idgraph demo`.

Pure: every function draws from the random source it is given (or a seed).

names.py    vocabularies, most common first
people.py   people, households, twins, movers
corrupt.py  how details go wrong when typed again
shapes.py   which details records carry, how dirty, how people live (`parse_shape`)
events.py   v1 events of a shape, with who made each (`synth_data`)
"""

from app.synth.events import SynthData, synth_data
from app.synth.people import Address, Person, Population, population
from app.synth.shapes import SHAPES, ContactsAs, Detail, Layout, Shape, parse_shape

__all__ = ["SHAPES", "Address", "ContactsAs", "Detail", "Layout", "Person", "Population",
           "Shape", "SynthData", "parse_shape", "population", "synth_data"]
