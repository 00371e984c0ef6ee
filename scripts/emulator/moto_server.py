"""moto's server, with one speed fix of its DynamoDB transactions (behaviour unchanged).

moto 5.2.5 backs up a table before a TransactWriteItems request, to roll it back if a condition
fails, by deep-copying the whole table once per item of the transaction: a transaction of 100
conditional puts on a table of 10,000 agents copies a million items. This copies each table
once per transaction (the copies were identical: nothing changes the table between them), so
the sweep's transactions can be tested at the scale they are for. Every request is still
answered by moto's own code.

Run as `python moto_server.py -H 127.0.0.1 -p PORT` (the arguments of moto_server).
"""

import copy
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.server import main

_transaction = threading.local()


class _OncePerTransaction:
    """`copy` as the DynamoDB models module sees it: deepcopy memoised while a transaction runs
    in this thread, the copy module's own behaviour otherwise."""

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, value, *args, **kwargs):
        memo = getattr(_transaction, "copies", None)
        if memo is None:
            return copy.deepcopy(value, *args, **kwargs)
        if id(value) not in memo:
            memo[id(value)] = (value, copy.deepcopy(value, *args, **kwargs))
        return memo[id(value)][1]


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_write_items_copying_once(self, transact_items):
    _transaction.copies = {}
    try:
        return _transact_write_items(self, transact_items)
    finally:
        _transaction.copies = None


dynamodb_models.copy = _OncePerTransaction()
dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items_copying_once

if __name__ == "__main__":
    sys.exit(main())
