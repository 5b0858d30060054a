print("xfer")
