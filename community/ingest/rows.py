"""New rows written without SQL built per value: one COPY on PostgreSQL, one statement run per row on SQLite.

Django's ``bulk_create`` builds one statement holding every row, in Python, value by value: during a
10,000-home replay that assembly was half of writing a new alert's history, escalation steps and
audit entry (8 rows an alert). Here each row's values are prepared as ``bulk_create`` prepares
them (each field's ``pre_save`` and ``get_db_prep_save``) and sent without any SQL built per
value: PostgreSQL takes them all in one COPY, SQLite loops over one statement in C. For rows
whose primary keys nobody needs back; the alerts themselves go through ``bulk_create`` for theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import ForeignKey, Model


def placeholders(width: int) -> str:
    return "(" + ", ".join(["%s"] * width) + ")"


def insert(objs: Sequence[Model]) -> None:
    """Insert these unsaved objects of one model (their database defaults and triggers apply;
    Django's save() and its signals do not, as with bulk_create)."""
    if not objs:
        return
    meta = type(objs[0])._meta
    if any(type(o) is not type(objs[0]) for o in objs):
        raise TypeError("rows.insert takes objects of one model")
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    relations = [f for f in fields if isinstance(f, ForeignKey)]
    for o in objs:  # a link made before its target was saved: take the target's key now
        for f in relations:
            if getattr(o, f.attname) is None and f.is_cached(o):
                target = getattr(o, f.name)
                setattr(o, f.attname, target.pk if target is not None else None)
    qn = connection.ops.quote_name
    table, columns = qn(meta.db_table), ", ".join(qn(f.column or f.attname) for f in fields)
    values = [tuple(f.get_db_prep_save(f.pre_save(o, True), connection) for f in fields) for o in objs]
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # COPY: one statement for every row; run per row, 700 rows a batch kept the alerts' writer
            # waiting on PostgreSQL for a third of a replay. psycopg's own cursor, so its errors are
            # made Django's here (the ingest tells "unreachable" from "this batch's fault" by them)
            with connection.wrap_database_errors, cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            cur.executemany(f"INSERT INTO {table} ({columns}) VALUES {placeholders(len(fields))}", values)
