"""The store: what a class shares, in a real database through SQLAlchemy 2, as a layer of its own (core/ stays
numpy and onnxruntime). SQLite in a file by default, PostgreSQL when served from several machines.

- `db`: the URL, the engine (SQLite set up for several processes), the tables and the schema's version;
- `rooms`: the guessing game's rooms, their players and every revealed character (`Store`);
- `batch`: the group commit through which records are written, by one thread of the store's own;
- `errors`: StoreError (the database cannot be used) and the RoomErrors (a room cannot be joined or written).
"""
