"""The shared customer state store: :class:`RedisStore` (``redis://HOST:PORT/DB``, for several
workers and several machines).

Events are added by one Lua script per batch (idempotent by ``event_id``); a committed
decision is made on a snapshot of the state and recorded by a Lua script that checks,
atomically, that the customer's contact history is still the one decided on and that the
channel caps hold, else the decision is made again on the new state. Acknowledged means
written by Redis: run it with ``appendonly yes`` and ``appendfsync always`` for the same
durability as SQLite.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from journeymine.exceptions import ConfigError
from journeymine.service.store import (
    Contact,
    CustomerState,
    Decider,
    Events,
    EventsCache,
    Persona,
    StoreErrors,
    StoreEvent,
    StoreUnavailable,
)

__all__ = ["RedisStore"]

# ARGV: prefix, then (event_id, customer_id, t_us, body) per event. New ids only.
_ADD_EVENTS = """
local p = ARGV[1]
local new = 0
for i = 2, #ARGV, 4 do
  if redis.call('SADD', p .. 'ids', ARGV[i]) == 1 then
    local seq = redis.call('INCR', p .. 'seq')
    local cid = ARGV[i + 1]
    redis.call('ZADD', p .. 'e:' .. cid, ARGV[i + 2], string.format('%016d', seq) .. ARGV[i + 3])
    redis.call('HINCRBY', p .. 'c:' .. cid, 'version', 1)
    redis.call('SADD', p .. 'customers', cid)
    new = new + 1
  end
end
return new
"""

# KEYS: customer hash, contacts list, events zset. ARGV: the version of the events the reader
# has cached (-1: none). The customer's fields and contacts, and the events with their scores
# unless their version is the cached one: a whole read in one round trip, atomically.
_READ = """
local meta = redis.call('HGETALL', KEYS[1])
if #meta == 0 then return {meta} end
local contacts = redis.call('LRANGE', KEYS[2], 0, -1)
local version = redis.call('HGET', KEYS[1], 'version') or '0'
if version == ARGV[1] then return {meta, contacts} end
return {meta, contacts, redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')}
"""

# KEYS: contacts list, decision key. ARGV: contacts seen, contact JSON, t_us, channel, caps JSON
# ([[channel, max, per_us], ...]). 1 = recorded, 0 = the history changed (decide again),
# -1 = a cap would be exceeded (decide again).
_RESERVE = """
local n = redis.call('LLEN', KEYS[1])
if n ~= tonumber(ARGV[1]) then return 0 end
local t = tonumber(ARGV[3])
local caps = cjson.decode(ARGV[5])
if #caps > 0 and n > 0 then
  local seen = redis.call('LRANGE', KEYS[1], 0, -1)
  for _, cap in ipairs(caps) do
    local used = 0
    for _, raw in ipairs(seen) do
      local c = cjson.decode(raw)
      local on = cap[1] == '*' or c['channel'] == cap[1]
      if on and c['t_us'] <= t and c['t_us'] > t - cap[3] then
        used = used + 1
      end
    end
    if used >= cap[2] then return -1 end
  end
end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


# KEYS: events zset, contacts list, customer hash, customers set. ARGV: cutoff_us, customer.
# Removes the older events and contacts of one customer atomically; {events, contacts} removed.
_RETAIN = """
local cutoff = tonumber(ARGV[1])
local gone = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local all = redis.call('LRANGE', KEYS[2], 0, -1)
local keep = {}
for _, raw in ipairs(all) do
  if cjson.decode(raw)['t_us'] >= cutoff then table.insert(keep, raw) end
end
if #keep < #all then
  redis.call('DEL', KEYS[2])
  for _, raw in ipairs(keep) do redis.call('RPUSH', KEYS[2], raw) end
end
if gone > 0 then
  -- the version only grows (a reader's cache of the events is keyed by it)
  redis.call('HINCRBY', KEYS[3], 'version', gone + 1)
  if redis.call('ZCARD', KEYS[1]) == 0 then
    redis.call('DEL', KEYS[2])
    redis.call('SREM', KEYS[4], ARGV[2])
    keep = {}
  end
end
return {gone, #all - #keep}
"""


class RedisStore:
    """The shared store: one Redis database (``redis://HOST:PORT/DB``); see the module."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "jm:",
        timeout: float = 5.0,
        caps: Sequence[tuple[str, int, int]] = (),
        max_retries: int = 500,
    ) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                "a redis:// state store needs redis-py: pip install 'journeymine[serve]'"
            ) from exc
        self._redis = redis
        self._errors = StoreErrors((redis.ConnectionError, redis.TimeoutError), "Redis")
        self.url = url
        self.prefix = prefix
        self.caps = [list(c) for c in caps]  # (channel, max, per_us), checked on reserve
        self.max_retries = max_retries
        self.r = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        self._add = self.r.register_script(_ADD_EVENTS)
        self._cache = EventsCache()
        self.timeout = timeout
        self._async: Any = None  # redis.asyncio client, made on first use (on the event loop)
        self._reserve = self.r.register_script(_RESERVE)
        self._retain = self.r.register_script(_RETAIN)
        self._read_script = self.r.register_script(_READ)
        self._waiting: list[tuple[list[str], list[str], Any]] = []  # reads of this loop turn
        self._tasks: set[Any] = set()

    def add_events(self, events: Sequence[StoreEvent]) -> tuple[int, int]:
        if not events:
            return 0, 0
        args: list[Any] = [self.prefix]
        for e in events:
            args += [e.event_id, e.customer_id, str(e.t_us), json.dumps(e.body)]
        with self._errors:
            new = int(self._add(keys=[], args=args))
        return new, len(events) - new

    @staticmethod
    def _version(meta: Any) -> int:
        return int(meta.get(b"version", 0))

    def _parsed(self, customer_id: str, meta: Any, rows: Any) -> Events:
        """The events read with ``meta`` (one transaction), parsed and cached."""
        events = (
            [json.loads(member[16:]) for member, _ in rows],
            [int(float(t)) for _, t in rows],
            [int(member[:16]) for member, _ in rows],
        )
        self._cache.put(customer_id, self._version(meta), events)
        return events

    def _state(
        self, customer_id: str, meta: Any, contacts: Any, events: Events
    ) -> tuple[CustomerState | None, int]:
        if not meta or not events[0]:  # unknown, or every event removed by retention
            return None, 0
        m = {k.decode(): v.decode() for k, v in meta.items()}
        state = CustomerState(
            customer_id,
            events[0],
            events[1],
            [Contact.from_json(c) for c in contacts],
            version=self._version(meta),
            persona=int(m["persona"]) if "persona" in m else None,
            persona_name=m.get("name"),
            probability=float(m["probability"]) if "probability" in m else None,
            persona_version=int(m.get("persona_version", -1)),
            event_seqs=events[2],
            aggregates=m.get("aggregates"),
        )
        return state, len(contacts)

    def _keys(self, customer_id: str) -> tuple[list[str], list[str], tuple[int, Events] | None]:
        """The keys and arguments of the read script, and the events cached for the customer."""
        p = self.prefix
        cached = self._cache.peek(customer_id)
        keys = [f"{p}c:{customer_id}", f"{p}k:{customer_id}", f"{p}e:{customer_id}"]
        return keys, [str(cached[0]) if cached is not None else "-1"], cached

    def _answer(
        self, customer_id: str, got: Any, cached: tuple[int, Events] | None
    ) -> tuple[CustomerState | None, int]:
        """The state from the read script's answer (``[meta, contacts, events?]``)."""
        flat = got[0]
        if not flat:
            return None, 0
        it = iter(flat)
        meta = dict(zip(it, it, strict=True))
        contacts = got[1]
        if len(got) > 2:  # the events changed: they came with the version they go with
            rows = got[2]
            events = self._parsed(customer_id, meta, list(zip(rows[::2], rows[1::2], strict=True)))
        else:
            assert cached is not None
            events = cached[1]
        return self._state(customer_id, meta, contacts, events)

    def _read(self, customer_id: str) -> tuple[CustomerState | None, int]:
        """The customer's state and the number of contacts it has: one round trip."""
        keys, args, cached = self._keys(customer_id)
        return self._answer(customer_id, self._read_script(keys=keys, args=args), cached)

    async def read_async(self, customer_id: str) -> CustomerState | None:
        """:meth:`get` on the event loop (``redis.asyncio``: no thread, no blocking call), in
        one round trip; a connection failure is :class:`StoreUnavailable`.

        The reads asked for in one turn of the event loop go to Redis together, in one
        pipeline (one write and one read of the socket for all of them)."""
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
        keys, args, cached = self._keys(customer_id)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send_reads)
        self._waiting.append((keys, args, future))
        try:
            got = await future
        except (self._redis.ConnectionError, self._redis.TimeoutError) as exc:
            raise StoreUnavailable(f"the Redis state store failed: {exc}") from exc
        return self._answer(customer_id, got, cached)[0]

    def _send_reads(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.ensure_future(self._read_batch(batch))
        self._tasks.add(task)  # kept until done (the loop holds tasks weakly)
        task.add_done_callback(self._tasks.discard)

    async def _read_batch(self, batch: list[tuple[list[str], list[str], Any]]) -> None:
        """The read script for every waiting read, in one pipeline (loaded on NOSCRIPT)."""
        try:
            for attempt in (0, 1):
                pipe = self._async.pipeline(transaction=False)
                for keys, args, _ in batch:
                    pipe.evalsha(self._read_script.sha, len(keys), *keys, *args)
                try:
                    answers = await pipe.execute()
                    break
                except self._redis.exceptions.NoScriptError:
                    if attempt:
                        raise
                    await self._async.script_load(_READ)
        except BaseException as exc:  # every waiting read gets the error
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), got in zip(batch, answers, strict=True):
            if not future.done():  # a cancelled request (client gone) is skipped
                future.set_result(got)

    def get(self, customer_id: str) -> CustomerState | None:
        with self._errors:
            return self._read(customer_id)[0]

    def set_persona(self, customer_id: str, persona: Persona) -> None:
        with self._errors:
            self.r.hset(
                f"{self.prefix}c:{customer_id}",
                mapping={
                    "persona": persona.persona,
                    "name": persona.name,
                    "probability": repr(persona.probability),
                    "persona_version": persona.version,
                    **({"aggregates": persona.aggregates} if persona.aggregates else {}),
                },
            )

    def decide(self, customer_id: str, decide: Decider, commit: bool) -> Any:
        p = self.prefix
        with self._errors:
            for attempt in range(self.max_retries):
                state, n_contacts = self._read(customer_id)
                if state is None:
                    return None
                answer, contact, persona = decide(state)
                if persona is not None:
                    self.set_persona(customer_id, persona)
                if not commit or contact is None:
                    return answer
                ok = self._reserve(
                    keys=[f"{p}k:{customer_id}", f"{p}d:{contact.decision_id}"],
                    args=[
                        n_contacts,
                        contact.to_json(),
                        contact.t_us,
                        contact.channel,
                        json.dumps(self.caps),
                    ],
                )
                if int(ok) == 1:
                    return answer
                time.sleep(min(0.001 * attempt, 0.02))  # another decision won: decide again
        raise StoreUnavailable(
            f"customer {customer_id!r}: {self.max_retries} committed decisions in a row lost "
            f"the race to record their contact; try again."
        )

    def contact(self, decision_id: str) -> Contact | None:
        with self._errors:
            raw = self.r.get(f"{self.prefix}d:{decision_id}")
        return None if raw is None else Contact.from_json(raw)

    def customers(self) -> Iterator[str]:
        with self._errors:
            members = self.r.smembers(f"{self.prefix}customers")
            ids = sorted(c.decode() if isinstance(c, bytes) else c for c in members)
        yield from ids

    def ping(self) -> None:
        with self._errors:
            self.r.ping()

    def delete_before(self, cutoff_us: int) -> tuple[int, int]:
        events = contacts = 0
        with self._errors:
            for cid in list(self.customers()):
                gone = self._retain(
                    keys=[
                        f"{self.prefix}e:{cid}",
                        f"{self.prefix}k:{cid}",
                        f"{self.prefix}c:{cid}",
                        f"{self.prefix}customers",
                    ],
                    args=[cutoff_us, cid],
                )
                events += int(gone[0])
                contacts += int(gone[1])
        self._cache.clear()
        return events, contacts

    def compact(self) -> None:
        with self._errors:
            self.r.bgrewriteaof()

    def close(self) -> None:
        self.r.close()

    async def close_async(self) -> None:
        """Close the asyncio client's connections (on the event loop that made them)."""
        if self._async is not None:
            client, self._async = self._async, None
            await client.aclose()
