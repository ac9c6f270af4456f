"""The fraud drill: a month of a three-store chain, honest customers and every attack (`make drill`)."""
