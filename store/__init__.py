"""The store: what a class shares, in a real database through SQLAlchemy 2, as a layer of its own (core/ stays
numpy and onnxruntime). SQLite in a file by default, PostgreSQL when served from several machines.

- `db`: the URL, the engine (SQLite set up for several processes), the tables and the schema's version;
- `rooms`: the guessing game's rooms, their players and every revealed character (`Store`);
- `errors`: StoreError (the database cannot be used) and the RoomErrors (a room cannot be joined or written).
"""
