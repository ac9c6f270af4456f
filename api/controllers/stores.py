"""Stores and their scanners, managed by owners and managers."""

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.auth import managers_only
from cards import stores
from cards.clock import Clock
from cards.identity import StaffIdentity
from mobile_contract import stores as wire
from mobile_contract.review import OptionalReason


class StoreController(Controller):
    path = "/v1/stores"
    tags = ["stores"]
    guards = [managers_only]

    @post(operation_id="createStore", summary="Open a store: its name, time zone, place and opening hours")
    async def create(
        self, data: JSONBody[wire.StoreCreate], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> wire.Store:
        return await stores.create_store(actor, data, clock())

    @get(operation_id="listStores", summary="The business's stores")
    async def list_all(self, actor: NamedDependency[StaffIdentity]) -> list[wire.Store]:
        return await stores.list_stores(actor.business_id)

    @get("/{store_id:uuid}", operation_id="getStore", summary="One store")
    async def read(self, store_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]) -> wire.Store:
        return await stores.get_store(actor.business_id, store_id)

    @patch(
        "/{store_id:uuid}",
        operation_id="updateStore",
        summary="Edit a store; active=false closes it (its tills stop at once; refunds still work)",
    )
    async def update(
        self,
        store_id: FromPath[UUID],
        data: JSONBody[wire.StoreUpdate],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.Store:
        return await stores.update_store(actor, store_id, data, clock())

    @post(
        "/{store_id:uuid}/scanners",
        operation_id="registerScanner",
        summary="Register a scanner; its secret is shown once",
    )
    async def register_scanner(
        self,
        store_id: FromPath[UUID],
        data: JSONBody[wire.ScannerCreate],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.ScannerRegistered:
        return await stores.register_scanner(actor, store_id, data, clock())

    @get("/{store_id:uuid}/scanners", operation_id="listScanners", summary="A store's scanners")
    async def list_scanners(
        self, store_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]
    ) -> list[wire.Scanner]:
        return await stores.list_scanners(actor.business_id, store_id)


class ScannerController(Controller):
    path = "/v1/scanners"
    tags = ["stores"]
    guards = [managers_only]

    @get("/{scanner_id:uuid}", operation_id="getScanner", summary="One scanner")
    async def read(self, scanner_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]) -> wire.Scanner:
        return await stores.get_scanner(actor.business_id, scanner_id)

    @post(
        "/{scanner_id:uuid}/revoke",
        operation_id="revokeScanner",
        status_code=200,
        summary="Revoke a lost or stolen scanner; its sessions end on their next request (body optional)",
    )
    async def revoke(
        self,
        scanner_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        data: JSONBody[OptionalReason | None] = None,
    ) -> wire.Scanner:
        return await stores.revoke_scanner(actor, scanner_id, data.reason if data else None, clock())
