"""Event managers' mutations and the event report (manager-only)."""
