"""Delivery of outbox messages (ERP allocations, task feeds, customer mail) as files in outbound folders."""
