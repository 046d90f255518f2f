"""The inventory: one YAML file that names everything the suite talks to on one site."""

from wcp_acceptance.inventory.load import InventoryError, load_inventory
from wcp_acceptance.inventory.model import Inventory

__all__ = ["Inventory", "InventoryError", "load_inventory"]
