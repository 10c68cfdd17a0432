"""`/servers`: add, edit and delete hosts (written to the inventory file), and discover their services."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
from sqlmodel import Session
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from collector.errors import HostError
from inventory import InventoryError
from inventory.edits import RemoteEditError
from inventory.errors import HostExists, HostNotFound
from webapp import inventory_edits as edits
from webapp.auth import current
from schema import fleet as fleet_state
from webapp.deps import FleetDep
from webapp.host_words import translate_host_message
from webapp.inventory_words import translate_problem
from webapp.server_form import GPU_MODES, HostForm, entry_values, parse_host_form
from webapp.i18n import N_, current as current_language, gettext
from webapp.templating import render

router = APIRouter(include_in_schema=False)
NOTICES = {"added": N_("Added %(id)s to the inventory; the hub is connecting to it."),
           "saved": N_("Saved %(id)s; the hub applied the change."),
           "deleted": N_("Deleted %(id)s from the inventory; its history is kept.")}


def _entry(fleet, host_id: str):
    inventory = fleet.inventory
    for entry in inventory.hosts if inventory else ():
        if entry.id == host_id:
            return entry
    raise HTTPException(404, detail=_unknown(host_id))


def _unknown(host_id: str) -> str:
    return gettext("unknown host %(host)s: it is not in the inventory") % {"host": repr(host_id)}


def _page(request: Request, fleet, form: HostForm | None, *, editing: str | None = None, status_code: int = 200,
          notice: str | None = None):
    """The list and the add form, or one host's edit form (blocking: a query; async callers use `_page_async`)."""
    inventory = fleet.inventory
    defaults = inventory.defaults if inventory else None
    specs = fleet.specs
    with Session(fleet.engine) as session:
        now = fleet_state.hosts_now(session, specs, cache=fleet.docs)
    hosts = [{"spec": spec, "state": now[host_id].state} for host_id, spec in specs.items()]
    context: dict[str, Any] = {"page": "servers", "hosts": hosts, "form": form or HostForm(values={"services": []}),
                               "editing": editing, "defaults": defaults, "gpu_modes": GPU_MODES, "notice": notice,
                               "inventory_path": str(fleet.watcher.path),
                               "inventory_problems": [{**p, "message": translate_problem(p["message"])}
                                                      for p in fleet.watcher.status.to_dict().get("problems") or []]}
    return render(request, "servers.html" if editing is None else "server_edit.html", context, status_code=status_code)


async def _page_async(request: Request, fleet, form: HostForm | None, **kw):
    return await anyio.to_thread.run_sync(lambda: _page(request, fleet, form, **kw))


def _admins_only(request: Request, host_id: str | None = None) -> None:
    """The host forms are for admins: a viewer asking for one by hand is told why instead (403)."""
    who = current(request)
    if who is not None and not who.is_admin:
        if host_id:
            detail = gettext("%(name)s is a viewer: viewers may look, only admins change hosts. %(page)s shows this "
                             "host; ask an admin to make the change.") % {
                "name": who.name, "page": f"/hosts/{quote(host_id, safe='')}"}
        else:
            detail = gettext("%(name)s is a viewer: viewers may look, only admins change hosts. /servers lists the "
                             "hosts; ask an admin to make the change.") % {"name": who.name}
        raise HTTPException(403, detail=detail)


async def _save(request: Request, fleet, form: HostForm, edit, *, editing: str | None, done: str, host_id: str):
    """Write the edit; back to the list with a notice, or the form again with errors beside the fields
    (every field's problem at once: the key files' folders are checked too when the form has others)."""
    if not form.ok:
        values = form.entry
        if editing is not None:  # a path written by hand is trusted: only one this edit changes is checked
            current = _entry(fleet, editing)
            values = {k: v for k, v in values.items() if getattr(current, k, None) != v}
        form.add_problems(edits.writer(fleet).key_problems(host_id or None, values))
    else:
        try:
            await edits.apply_edit(fleet, edit)
        except InventoryError as exc:
            form.add_problems(exc.problems)
        except HostExists as exc:
            form.errors["id"] = translate_problem(str(exc))
        except HostNotFound as exc:
            form.general.append(translate_problem(str(exc)))
        except edits.EditQueued as exc:
            form.general.append(exc.worded())
        except (OSError, RemoteEditError) as exc:
            form.general.append(gettext("cannot write the inventory file: %(error)s") % {"error": exc})
        else:
            return RedirectResponse(f"/servers?{done}={quote(host_id)}", status_code=303)
    return await _page_async(request, fleet, form, editing=editing, status_code=422)


async def _form(request: Request) -> dict[str, list[str]]:
    data = await request.form()
    out: dict[str, list[str]] = {}
    for key, value in data.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


@router.get("/servers", response_class=HTMLResponse)
def servers_page(request: Request, fleet: FleetDep, added: str = "", saved: str = "", deleted: str = ""):
    """The hosts of the inventory and a form to add one."""
    done = next(((kind, host) for kind, host in (("added", added), ("saved", saved), ("deleted", deleted)) if host),
                None)
    notice = gettext(NOTICES[done[0]]) % {"id": done[1]} if done else None
    return _page(request, fleet, None, notice=notice)


@router.post("/servers", response_class=HTMLResponse)
async def add_server(request: Request, fleet: FleetDep):
    """Add a host from the form."""
    form = parse_host_form(await _form(request), editing=False)
    host_id = form.entry.get("id", "")
    return await _save(request, fleet, form, edits.add_host(form.entry), editing=None, done="added", host_id=host_id)


@router.get("/servers/new")
def new_server(request: Request):
    """The add form is on /servers (admins only)."""
    _admins_only(request)
    return RedirectResponse("/servers#add-host", status_code=303)


@router.get("/servers/{host_id}/edit", response_class=HTMLResponse)
def edit_server(request: Request, host_id: str, fleet: FleetDep):
    """The edit form of one host, filled with what the inventory file says (admins only)."""
    _admins_only(request, host_id)
    form = HostForm(values=entry_values(_entry(fleet, host_id)))
    return _page(request, fleet, form, editing=host_id)


@router.post("/servers/{host_id}", response_class=HTMLResponse)
async def save_server(request: Request, host_id: str, fleet: FleetDep):
    """Save the edit form of one host."""
    _entry(fleet, host_id)
    form = parse_host_form(await _form(request), editing=True, host_id=host_id)
    form.values["id"] = host_id
    return await _save(request, fleet, form, edits.update_host(host_id, form.entry), editing=host_id, done="saved",
                       host_id=host_id)


@router.post("/servers/{host_id}/delete")
async def delete_server(host_id: str, fleet: FleetDep):
    """Delete one host from the inventory (its history stays)."""
    _entry(fleet, host_id)
    try:
        await edits.apply_edit(fleet, edits.delete_host(host_id))
    except (InventoryError, HostNotFound, OSError, RemoteEditError, edits.EditQueued) as exc:
        raise HTTPException(409, detail=gettext("could not delete %(host)s: %(error)s") % {
            "host": host_id, "error": _worded(exc)}) from None
    return RedirectResponse(f"/servers?deleted={quote(host_id)}", status_code=303)


def _worded(exc: Exception) -> str:
    """Why an edit failed, in the page's language (English: as before, the file and line of each problem too;
    an OS error's own text stays as it is)."""
    if isinstance(exc, edits.EditQueued):
        return exc.worded()
    if isinstance(exc, InventoryError) and current_language() != "en":
        return "; ".join(f"{p.field}: {translate_problem(p.message)}" if p.field else translate_problem(p.message)
                         for p in exc.problems)
    return translate_problem(str(exc))


@router.get("/servers/{host_id}/discover", response_class=HTMLResponse)
async def discover_services(request: Request, host_id: str, fleet: FleetDep):
    """The host's systemd services as checkboxes (a partial for the edit form, admins only)."""
    _admins_only(request, host_id)
    spec = fleet.specs.get(host_id)
    if spec is None:
        raise HTTPException(404, detail=_unknown(host_id))
    # on failure the watched units are offered again, so a failed discovery never unwatches them
    watched = [{"name": name, "active_state": None, "description": None} for name in spec.services]
    context: dict[str, Any] = {"host_id": host_id, "watched": set(spec.services), "units": watched, "error": None}
    try:
        result = await fleet.control.service_catalog(host_id)
    except HostError as err:
        context["error"] = gettext("cannot reach %(host)s: %(error)s. Try again once it is up.") % {
            "host": host_id, "error": translate_host_message(err.message)}
    except KeyError:
        context["error"] = gettext("no collector polls %(host)s right now (it was just added, or its collector is "
                                   "restarting). Try again in a few seconds.") % {"host": host_id}
    else:
        found = {u["name"] for u in result["units"]}
        # watched units the host does not list stay ticked, so discovering never unwatches anything silently
        context["units"] = list(result["units"]) + [{"name": name, "active_state": "not found", "description": None}
                                                    for name in spec.services if name not in found]
        if not result["available"]:
            context["error"] = result["error"] or gettext("systemd is not available on this host")
    return render(request, "_discover.html", context)
