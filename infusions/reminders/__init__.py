"""Reminders: the outbox rows (planning), links, messages, transports and dispatch."""
