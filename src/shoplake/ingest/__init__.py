"""Ingestion: sources → MongoDB → raw zone."""
