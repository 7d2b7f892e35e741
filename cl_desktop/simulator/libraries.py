"""Datastores, libraries, items, item files and storage."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from typing import Any

from .args import as_spec, check_client_token, opt_str, req_str
from .errors import ApiError, invalid_argument, localizable, not_found, operation_not_found
from .models import DATASTORE_ID, DATASTORE_NAME, JSON, Item, ItemFile, Library, Principal
from .state import State

log = logging.getLogger(__name__)


class LibraryOps(State):
    """Operations on the durable content: datastores, libraries, items, files, storage."""

    def datastores(self) -> list[JSON]:
        usage = shutil.disk_usage(self.store.root)
        return [
            {
                "datastore": DATASTORE_ID,
                "name": DATASTORE_NAME,
                "type": "VMFS",
                "free_space": usage.free,
                "capacity": usage.total,
            }
        ]

    def datastore(self, datastore_id: str) -> JSON:
        if datastore_id != DATASTORE_ID:
            raise not_found("datastore", datastore_id)
        usage = shutil.disk_usage(self.store.root)
        return {
            "name": DATASTORE_NAME,
            "type": "VMFS",
            "accessible": True,
            "free_space": usage.free,
            "multiple_host_access": False,
            "thin_provisioning_supported": True,
        }

    def list_libraries(self) -> list[str]:
        with self._locked():
            return list(self.store.libraries)

    def get_library(self, library_id: str) -> JSON:
        with self._locked():
            return self._library(library_id).model(self.store.server_guid)

    def find_libraries(self, spec: Any) -> list[str]:
        spec = as_spec(spec, "find spec")
        name = opt_str(spec, "name")
        lib_type = opt_str(spec, "type")
        backing = spec.get("storage_backing")
        if name is None and lib_type is None and backing is None:
            raise invalid_argument(
                "At least one of 'name', 'type' or 'storage_backing' must be specified.",
                key="empty_find_spec",
            )
        with self._locked():
            out = []
            for library in self.store.libraries.values():
                if name is not None and library.name.casefold() != name.casefold():
                    continue
                if lib_type is not None and library.type != lib_type:
                    continue
                if isinstance(backing, dict) and backing.get("datastore_id") not in (
                    None,
                    DATASTORE_ID,
                ):
                    continue
                out.append(library.id)
            return out

    def create_library(self, principal: Principal, spec: Any, client_token: str | None) -> str:
        self._require_write(principal, "ContentLibrary.CreateLocalLibrary")
        spec = as_spec(spec, "create spec")
        client_token = check_client_token(client_token)
        name = req_str(spec, "name")
        description = opt_str(spec, "description") or ""
        lib_type = opt_str(spec, "type") or "LOCAL"
        if lib_type != "LOCAL":
            raise invalid_argument(
                f"Library type '{lib_type}' cannot be created here; only LOCAL libraries.",
                lib_type,
                key="invalid_library_type",
            )
        backings = spec.get("storage_backings")
        if not isinstance(backings, list) or not backings:
            raise invalid_argument(
                "'storage_backings' must list one storage backing.", key="missing_storage_backing"
            )
        for backing in backings:
            if not isinstance(backing, dict) or backing.get("type", "DATASTORE") != "DATASTORE":
                raise invalid_argument(
                    "Only DATASTORE storage backings are supported.", key="invalid_storage_backing"
                )
            datastore = backing.get("datastore_id")
            if datastore != DATASTORE_ID:
                raise invalid_argument(
                    f"The datastore '{datastore}' does not exist.",
                    str(datastore),
                    key="invalid_datastore",
                )
        with self._locked():
            known = self._idempotent(principal, "library", client_token)
            if known is not None:
                return known
            self._library_name_taken(name)
            now = self.clock()
            library = Library(str(uuid.uuid4()), name, description, now, now)
            self.store.add_library(library)
            self._remember(principal, "library", client_token, library.id)
            return library.id

    def update_library(self, principal: Principal, library_id: str, spec: Any) -> None:
        self._require_write(principal, "ContentLibrary.UpdateLocalLibrary")
        spec = as_spec(spec, "update spec")
        name = opt_str(spec, "name")
        description = opt_str(spec, "description")
        if name == "":
            raise invalid_argument("'name' must not be empty.", key="invalid_name")
        with self._locked():
            library = self._library(library_id)
            if name is not None and name.casefold() != library.name.casefold():
                self._library_name_taken(name)
            if name is not None:
                library.name = name
            if description is not None:
                library.description = description
            library.version += 1
            library.last_modified_time = self.clock()
            self.store.save_library(library)

    def _library_name_taken(self, name: str) -> None:
        for library in self.store.libraries.values():
            if library.name.casefold() == name.casefold():
                raise ApiError(
                    "ALREADY_EXISTS",
                    f"A library with the name '{name}' already exists.",
                    key="duplicate_library_name",
                    args=[name],
                )

    def delete_library(self, principal: Principal, library_id: str) -> None:
        """vCenter deletes a library with its items (and ends their sessions)."""
        self._require_write(principal, "ContentLibrary.DeleteLocalLibrary")
        with self._locked() as trash:
            library = self._library(library_id)
            for item in list(self.store.items_of(library.id)):
                self._end_sessions_of(item, trash)
            self.store.delete_library(library)
        shutil.rmtree(self.store.library_dir(library_id), ignore_errors=True)

    def _name_taken(self, library_id: str, name: str, other_than: str | None = None) -> None:
        holder = self.store.item_named(library_id, name)
        if holder is not None and holder.id != other_than:
            raise ApiError(
                "ALREADY_EXISTS",
                f"Operation is not supported since a library item with the name '{name}' "
                f"already exists in library '{library_id}'.",
                key="duplicate_item_name_unsupported_in_library",
                args=[name, library_id],
            )

    def list_items(self, library_id: str | None) -> list[str]:
        if not library_id:
            raise invalid_argument("'library_id' is required.", "library_id", key="missing_field")
        with self._locked():
            self._library(library_id)
            return [i.id for i in self.store.items_of(library_id)]

    def get_item(self, item_id: str) -> JSON:
        with self._locked():
            return self._item(item_id).model()

    def find_items(self, spec: Any) -> list[str]:
        spec = as_spec(spec, "find spec")
        name = opt_str(spec, "name")
        library_id = opt_str(spec, "library_id")
        item_type = opt_str(spec, "type")
        source_id = opt_str(spec, "source_id")
        cached = spec.get("cached")
        if all(v is None for v in (name, library_id, item_type, source_id, cached)):
            raise invalid_argument(
                "At least one property of the find spec must be specified.", key="empty_find_spec"
            )
        with self._locked():
            out = []
            for item in self.store.items.values():
                if name is not None and item.name.casefold() != name.casefold():
                    continue
                if library_id is not None and item.library_id != library_id:
                    continue
                if item_type is not None and item.type != item_type:
                    continue
                if source_id is not None:
                    continue  # local items have no source
                if cached is not None and bool(item.files) != bool(cached):
                    continue
                out.append(item.id)
            return out

    def create_item(self, principal: Principal, spec: Any, client_token: str | None) -> str:
        self._require_write(principal, "ContentLibrary.AddLibraryItem")
        spec = as_spec(spec, "create spec")
        client_token = check_client_token(client_token)
        library_id = req_str(spec, "library_id")
        name = req_str(spec, "name")
        description = opt_str(spec, "description") or ""
        item_type = opt_str(spec, "type") or ""
        with self._locked():
            known = self._idempotent(principal, "item", client_token)
            if known is not None:
                return known
            library = self._library(library_id)
            self._name_taken(library.id, name)
            now = self.clock()
            item = Item(str(uuid.uuid4()), library.id, name, description, item_type, now, now)
            self.store.add_item(item)
            self._remember(principal, "item", client_token, item.id)
            return item.id

    def copy_item(
        self, principal: Principal, source_id: str, spec: Any, client_token: str | None, path: str
    ) -> str:
        """vCenter's item copy: a new item in the destination spec's library (the source's
        name, description and type unless the spec names them) holding the source's files,
        copied on the datastore; refused while the source is being updated."""
        if not self.config.item_copy:
            raise operation_not_found("POST", path.format(id=source_id))
        self._require_write(principal, "ContentLibrary.AddLibraryItem")
        spec = as_spec(spec, "destination create spec")
        client_token = check_client_token(client_token)
        library_id = req_str(spec, "library_id")
        with self._locked():
            known = self._idempotent(principal, "item", client_token)
            if known is not None:
                return known
            source = self._item(source_id)
            library = self._library(library_id)
            name = opt_str(spec, "name") or source.name
            self._name_taken(library.id, name)
            updates = self.update_sessions.values()
            if any(u.item_id == source.id and u.state == "ACTIVE" for u in updates):
                raise ApiError(
                    "RESOURCE_BUSY",
                    f"The library item '{source.id}' is being updated by another session.",
                    key="item_busy",
                    args=[source.id],
                )
            now = self.clock()
            item = Item(
                str(uuid.uuid4()),
                library.id,
                name,
                opt_str(spec, "description") or source.description,
                opt_str(spec, "type") or source.type,
                now,
                now,
            )
            files = list(source.files.values())
        # the bytes move outside the lock (a hard link when the datastore allows one)
        copied: dict[str, ItemFile] = {}
        for file in files:
            dest = self.store.blob_path(item, file.name, 1)
            dest.parent.mkdir(parents=True, exist_ok=True)
            origin = self.store.absolute(file.blob)
            try:
                dest.hardlink_to(origin)  # blobs are never written in place
            except OSError:
                shutil.copyfile(origin, dest)
            blob = self.store.relative(dest)
            copied[file.name] = ItemFile(file.name, file.size, 1, file.sha1, blob)
        with self._locked():
            if self.store.items.get(source.id) is None:
                shutil.rmtree(self.store.item_dir(item), ignore_errors=True)
                raise not_found("library item", source.id)
            self._library(library.id)
            self._name_taken(library.id, name)
            item.files = copied
            self.store.add_item(item)
            self._remember(principal, "item", client_token, item.id)
            log.info("copied item %s into %s as %s", source.id, library.id, item.id)
            return item.id

    def update_item(self, principal: Principal, item_id: str, spec: Any) -> None:
        self._require_write(principal, "ContentLibrary.UpdateLibraryItem")
        spec = as_spec(spec, "update spec")
        name = opt_str(spec, "name")
        description = opt_str(spec, "description")
        version = spec.get("version")
        if name == "":
            raise invalid_argument("'name' must not be empty.", key="invalid_name")
        with self._locked():
            item = self._item(item_id)
            if version is not None and str(version) != str(item.version):
                raise ApiError(
                    "CONCURRENT_CHANGE",
                    f"The library item '{item_id}' was changed by someone else "
                    f"(version {item.version}, update based on {version}).",
                    key="concurrent_change",
                    args=[item_id, str(item.version), str(version)],
                )
            if name is not None and name != item.name:
                self._name_taken(item.library_id, name, other_than=item.id)
                item.name = name
            if description is not None:
                item.description = description
            item.metadata_version += 1
            item.version += 1
            item.last_modified_time = self.clock()
            self.store.save_item(item)

    def _end_sessions_of(self, item: Item, trash: list[Path]) -> None:
        """Before an item goes: its content to the trash, its open sessions to ERROR."""
        for file in item.files.values():
            trash.append(self.store.absolute(file.blob))
        for update_session in list(self.update_sessions.values()):
            if update_session.item_id == item.id and update_session.state == "ACTIVE":
                update_session.state = "ERROR"
                update_session.error_message = localizable(
                    "com.vmware.vdcs.cls-main.item_deleted",
                    f"The library item '{item.id}' was deleted.",
                    [item.id],
                )
                self._discard_upload_content(update_session, trash)
        for download_session in self.download_sessions.values():
            if download_session.item_id == item.id and download_session.state == "ACTIVE":
                download_session.state = "ERROR"
                download_session.error_message = localizable(
                    "com.vmware.vdcs.cls-main.item_deleted",
                    f"The library item '{item.id}' was deleted.",
                    [item.id],
                )
                self._revoke_download_tokens(download_session)

    def delete_item(self, principal: Principal, item_id: str) -> None:
        self._require_write(principal, "ContentLibrary.DeleteLibraryItem")
        with self._locked() as trash:
            item = self._item(item_id)
            item_dir = self.store.item_dir(item)
            self._end_sessions_of(item, trash)
            self.store.delete_item(item)
        shutil.rmtree(item_dir, ignore_errors=True)

    def item_files(self, item_id: str) -> list[JSON]:
        with self._locked():
            return [file.info() for file in self._item(item_id).files.values()]

    def item_file(self, item_id: str, name: str | None) -> JSON:
        if not name:
            raise invalid_argument("'name' is required.", "name", key="missing_field")
        with self._locked():
            file = self._item(item_id).files.get(name)
            if file is None:
                raise ApiError(
                    "NOT_FOUND",
                    f"The file '{name}' does not exist in library item '{item_id}'.",
                    key="file_not_found",
                    args=[name, item_id],
                )
            return file.info()

    def storage(self, item_id: str, file_name: str | None = None) -> list[JSON]:
        with self._locked():
            item = self._item(item_id)
            files = list(item.files.values())
            if file_name is not None:
                files = [file for file in files if file.name == file_name]
                if not files:
                    raise ApiError(
                        "NOT_FOUND",
                        f"The file '{file_name}' does not exist in library item '{item_id}'.",
                        key="file_not_found",
                        args=[file_name, item_id],
                    )
            return [file.storage_info(item.library_id, item.id) for file in files]
