// Type-checked only (tsc -p scripts/sdkcheck), never executed.
//
// A small, realistic client of the Activities API written against the
// TypeScript types openapi-typescript generates from openapi/activities.yaml.
// If a spec change breaks what a client like this relies on (a renamed field,
// a path, a required property, an enum value), scripts/spec-check.sh fails.
// The @ts-expect-error lines prove the generated types are real: with `any`
// types they would be unused and tsc would fail.

import createClient from "openapi-fetch";
import type { components, paths } from "../out/activities";
import { assertNotAny } from "../notany";

type Channel = components["schemas"]["Channel"];
type DispatchConfig = components["schemas"]["DispatchConfig"];

const client = createClient<paths>({
  baseUrl: "http://127.0.0.1:8080/api",
  headers: { "x-api-key": "sb_sk_example" },
});

export async function firstCredentialKey(): Promise<string | undefined> {
  const { data, error } = await client.GET("/dispatch-providers");
  if (error) {
    // Error bodies are typed too.
    const status: number = error.statusCode;
    const problems: string[] | undefined = error.errors;
    throw new Error(`${status}: ${error.message} ${problems?.join(", ") ?? ""}`);
  }
  const provider = data[0];
  if (!provider) return undefined;
  const protocol: "REST" | "MOCK" = provider.protocolType;
  void protocol;
  const key: string = provider.channelDefinitions[0].credentialSchema[0].key;
  assertNotAny(key, true);
  // @ts-expect-error -- `credentialSchema` entries have no `name`, only `key`.
  void provider.channelDefinitions[0].credentialSchema[0].name;
  return key;
}

export async function channelsOf(providerId: string): Promise<Channel[]> {
  const { data } = await client.GET("/dispatch-providers/{id}/channel-definitions", {
    params: { path: { id: providerId }, header: { "x-tenant-id": "ws-1" } },
  });
  return (data ?? []).map((definition) => definition.channel);
}

export async function createSalesmanConfig(providerId: string): Promise<string | undefined> {
  const { data, error, response } = await client.POST("/dispatch-configs", {
    body: {
      dispatch_provider_id: providerId,
      channel: "SALESMAN",
      base_url: "https://provider.example.com",
      credentials: { apiKey: "sk-xxx" },
    },
  });
  if (error) {
    return `failed with ${response.status}: ${error.message}`;
  }
  const created: DispatchConfig = data;
  const baseUrl: string | null = created.baseUrl;
  void baseUrl;
  // @ts-expect-error -- credentials are write-only: DispatchConfig never returns them.
  void created.credentials;
  return data?.dispatchProvider.code;
}

export async function createWithBadChannel(providerId: string): Promise<void> {
  await client.POST("/dispatch-configs", {
    body: {
      dispatch_provider_id: providerId,
      // @ts-expect-error -- "FAX" is not a Channel.
      channel: "FAX",
    },
  });
}

export async function createWithoutProvider(): Promise<void> {
  await client.POST("/dispatch-configs", {
    // @ts-expect-error -- dispatch_provider_id is required.
    body: { channel: "EMAIL" },
  });
}

export async function listActiveWhatsApp(): Promise<DispatchConfig[]> {
  const { data } = await client.GET("/dispatch-configs", {
    params: { query: { channel: "WHATSAPP", is_active: true } },
  });
  return data ?? [];
}

export async function moveAndReactivate(id: string): Promise<boolean | undefined> {
  const { data } = await client.PATCH("/dispatch-configs/{id}", {
    params: { path: { id } },
    body: { base_url: "https://new-provider.example.com", is_active: true },
  });
  // @ts-expect-error -- is_active is a boolean, not a string.
  await client.PATCH("/dispatch-configs/{id}", { params: { path: { id } }, body: { is_active: "yes" } });
  return data?.isActive;
}

export async function clearBaseUrl(id: string): Promise<void> {
  await client.PATCH("/dispatch-configs/{id}", {
    params: { path: { id } },
    body: { base_url: null },
  });
}

export async function deactivate(id: string): Promise<boolean> {
  const { response } = await client.DELETE("/dispatch-configs/{id}", {
    params: { path: { id } },
  });
  // @ts-expect-error -- the path parameter is required.
  await client.DELETE("/dispatch-configs/{id}", {});
  return response.status === 204;
}

export async function fetchOne(id: string): Promise<string> {
  const { data } = await client.GET("/dispatch-configs/{id}", { params: { path: { id } } });
  const createdAt: string | undefined = data?.createdAt;
  return createdAt ?? "";
}

type CommerceUser = components["schemas"]["CommerceUser"];
type IntegrationTask = components["schemas"]["IntegrationTask"];

export async function addOwnerWithPhone(commerceId: string): Promise<CommerceUser | undefined> {
  const { data: user } = await client.POST("/commerces/{id}/users", {
    params: { path: { id: commerceId } },
    body: { name: "Maria Garcia", external_id: "usr-001", source: "RETEN", roles: ["OWNER"] },
  });
  if (!user) return undefined;
  const firstName: string | null = user.firstName;
  void firstName;
  await client.POST("/commerces/{id}/users/{userId}/contacts", {
    params: { path: { id: commerceId, userId: user.id } },
    body: { contact_type: "PHONE", value: "+56912345678", source: "RETEN", is_primary: true },
  });
  await client.POST("/commerces/{id}/users/{userId}/contacts", {
    params: { path: { id: commerceId, userId: user.id } },
    // @ts-expect-error -- source is required on a contact.
    body: { contact_type: "EMAIL", value: "maria@example.com" },
  });
  await client.DELETE("/commerces/{id}/users/{userId}/roles/{role}", {
    // @ts-expect-error -- "BOSS" is not a commerce user role.
    params: { path: { id: commerceId, userId: user.id, role: "BOSS" } },
  });
  const { data: withRep } = await client.POST("/commerces/{id}/users/{userId}/roles", {
    params: { path: { id: commerceId, userId: user.id } },
    body: { role: "COMMERCE_REP" },
  });
  return withRep;
}

export async function pendingTasks(): Promise<IntegrationTask[]> {
  const { data } = await client.GET("/integration/activities/tasks", {
    params: { query: { status: "PENDING", per_page: 50, external_commerce_id: "COM-001" } },
  });
  // @ts-expect-error -- task statuses are PENDING/IN_PROGRESS/COMPLETED/CANCELLED, not activity statuses.
  await client.GET("/integration/activities/tasks", { params: { query: { status: "READY" } } });
  return data?.data ?? [];
}

export async function reportSale(activityId: string): Promise<string | undefined> {
  const { data, error } = await client.POST("/integration/activity-results/tasks", {
    body: {
      activity_id: activityId,
      commerce_external_id: "COM-001",
      occurred_at: "2026-04-11T10:30:00.000Z",
      status: "EFFECTIVE",
      task_result: { result: "SALE_COMPLETED", contact_type: "OUTBOUND" },
    },
  });
  if (error) return error.message;
  const types = await client.GET("/integration/task-result-type-configs");
  const needsDate: boolean | undefined = types.data?.[0]?.requiresFutureScheduledAt;
  void needsDate;
  return data?.activityStatus;
}

type ActivityAttribute = components["schemas"]["ActivityAttribute"];

// Resolution: a policy in the documented camelCase form, an activity's attributes and target
// user, a manual assignment and a retry.
export async function resolveByHand(activityId: string, commerceUserId: string): Promise<string | undefined> {
  await client.POST("/activity-config/attribute-policies", {
    body: { attribute_key_id: "a77e8400-e29b-41d4-a716-446655440001", strategy: "UPFRONT", resolver_type: "INTERNAL_SERVICE" },
  });
  await client.POST("/activity-config/attribute-policies", {
    // @ts-expect-error -- "SOMETIMES" is not a resolution strategy.
    body: { attribute_key_id: "a77e8400-e29b-41d4-a716-446655440001", strategy: "SOMETIMES" },
  });
  const { data: attributes } = await client.GET("/activities/{id}/attributes", { params: { path: { id: activityId } } });
  const info: ActivityAttribute | undefined = attributes?.find((a) => a.key === "commerce_info");
  const status: "PENDING" | "RESOLVED" | "FAILED" | "FALLBACK" | undefined = info?.resolutionStatus;
  void status;
  const { data: targets } = await client.GET("/activities/{id}/target-users", { params: { path: { id: activityId } } });
  const pending = targets?.find((t) => t.resolutionStatus === "PENDING" || t.resolutionStatus === "FAILED");
  if (!pending) return undefined;
  const { data: assigned } = await client.PATCH("/activities/{id}/target-users/{targetUserId}/resolve", {
    params: { path: { id: activityId, targetUserId: pending.id } },
    body: { commerce_user_id: commerceUserId },
  });
  const reason: string | null | undefined = assigned?.lockReason;
  void reason;
  const { data: retried } = await client.PATCH("/activities/{id}/retry-resolution", { params: { path: { id: activityId } } });
  // @ts-expect-error -- an activity's target user has no `role`.
  void retried?.targetUser?.role;
  return retried?.status;
}
