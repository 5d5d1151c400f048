"""GET /v2.1/servers/{id}/os-instance-actions and .../{request_id}: what was done to a
server, by which request (Nova's shapes).

    index  {"instanceActions": [<action>, ...]}   newest first
    show   {"instanceAction": <action> + "events"}
    <action> = action (create, delete, reboot), instance_uuid, request_id (the
               x-openstack-request-id of the request that did it), user_id,
               project_id, start_time, message[, updated_at (2.58)]

From 2.21 the actions of a deleted server stay readable (Nova's). "events" is shown
to admins, and from 2.51 to whoever may see the action; it is empty: the compute
hosts record no events.
"""
from nova_console.api import auth
from nova_console.api import microversion
from nova_console.api import policies
from nova_console.api import policy
from nova_console.api import servers
from nova_console.api import wsgi

DELETED_SERVERS_MIN_VERSION = "2.21"
EVENTS_FOR_ALL_MIN_VERSION = "2.51"
UPDATED_AT_MIN_VERSION = "2.58"
ACTION_FIELDS = ("action", "instance_uuid", "request_id", "user_id", "project_id",
                 "message")


def action_view(req, action):
    view = {field: action[field] for field in ACTION_FIELDS}
    view["start_time"] = servers.datetime_text(action["start_time"])
    if microversion.is_supported(req, UPDATED_AT_MIN_VERSION):
        view["updated_at"] = servers.datetime_text(action["updated_at"])
    return view


class InstanceActionsController:

    def __init__(self, compute_api):
        self.compute_api = compute_api

    def _instance(self, req, server_id, rule):
        context = auth.get_context(req)
        read_deleted = microversion.is_supported(req, DELETED_SERVERS_MIN_VERSION)
        instance = self.compute_api.get(context, server_id, read_deleted=read_deleted)
        policy.authorize(context, rule, {"project_id": instance["project_id"]})
        return context, instance

    def index(self, req, server_id):
        context, instance = self._instance(req, server_id, policies.INSTANCE_ACTIONS_LIST)
        actions = self.compute_api.get_instance_actions(context, instance)
        return wsgi.json_response({"instanceActions": [action_view(req, a) for a in actions]})

    def show(self, req, server_id, request_id):
        context, instance = self._instance(req, server_id, policies.INSTANCE_ACTIONS_SHOW)
        action = self.compute_api.get_instance_action(context, instance, request_id)
        view = action_view(req, action)
        if (microversion.is_supported(req, EVENTS_FOR_ALL_MIN_VERSION) or policy.check(
                context, policies.INSTANCE_ACTIONS_EVENTS,
                {"project_id": instance["project_id"]})):
            view["events"] = []
        return wsgi.json_response({"instanceAction": view})
