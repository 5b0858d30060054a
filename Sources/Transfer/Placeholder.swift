import Framing
