"""Names and shapes of the exchanges and queues; every service declares its own at start-up.

- ``<ns>.case-events``: one durable topic exchange; the routing key is the event type.
- ``<ns>.<service>.<event type>``: a durable quorum queue per consuming service and event type,
  dead-lettering to ``<ns>.dead-letter`` after ``delivery_limit`` deliveries.
- ``<ns>.<service>.parking``: the service's parking queue, fed by the dead-letter exchange and by
  the consumer itself when a message can never be processed (the reason is in the headers).
"""

from __future__ import annotations

from dataclasses import dataclass

from faststream.rabbit import ExchangeType, QueueType, RabbitExchange, RabbitQueue


@dataclass(frozen=True)
class Topology:
    namespace: str
    delivery_limit: int = 10

    @property
    def case_events(self) -> RabbitExchange:
        return RabbitExchange(
            f"{self.namespace}.case-events", type=ExchangeType.TOPIC, durable=True
        )

    @property
    def dead_letter(self) -> RabbitExchange:
        return RabbitExchange(
            f"{self.namespace}.dead-letter", type=ExchangeType.DIRECT, durable=True
        )

    def parking_key(self, service: str) -> str:
        return f"{service}.parking"

    def consumer_queue(self, service: str, event_type: str) -> RabbitQueue:
        return RabbitQueue(
            f"{self.namespace}.{service}.{event_type}",
            queue_type=QueueType.QUORUM,
            durable=True,
            routing_key=event_type,
            arguments={
                "x-dead-letter-exchange": self.dead_letter.name,
                "x-dead-letter-routing-key": self.parking_key(service),
                "x-delivery-limit": self.delivery_limit,
            },
        )

    def parking_queue(self, service: str) -> RabbitQueue:
        return RabbitQueue(
            f"{self.namespace}.{service}.parking",
            queue_type=QueueType.QUORUM,
            durable=True,
            routing_key=self.parking_key(service),
        )
