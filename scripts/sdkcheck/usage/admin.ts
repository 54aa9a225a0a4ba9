// Type-checked only (tsc -p scripts/sdkcheck), never executed.
//
// A small, realistic operator client of the Admin API written against the
// TypeScript types openapi-typescript generates from openapi/admin.yaml.
// The @ts-expect-error lines prove the generated types are real: with `any`
// types they would be unused and tsc would fail.

import createClient from "openapi-fetch";
import type { components, paths } from "../out/admin";
import { assertNotAny } from "../notany";

type Permission = components["schemas"]["Permission"];
type Workspace = components["schemas"]["Workspace"];

const admin = createClient<paths>({
  baseUrl: "http://127.0.0.1:8080/admin/v1",
  headers: { Authorization: "Bearer admin-token" },
});

export async function onboard(name: string): Promise<{ workspaceId: string; key: string } | undefined> {
  const created = await admin.POST("/workspaces", { body: { name } });
  if (created.error) {
    const code: components["schemas"]["Error"]["code"] = created.error.code;
    const fields = (created.error.details ?? []).map((detail) => detail.field ?? "?");
    throw new Error(`${code}: ${created.error.message} (${fields.join(", ")})`);
  }
  const workspace: Workspace = created.data;

  const permissions: Permission[] = ["VIEW_ACTIVITIES", "MANAGE_ACTIVITY_CONFIG"];
  const { data } = await admin.POST("/workspaces/{workspaceId}/api-keys", {
    params: { path: { workspaceId: workspace.id } },
    body: { name: "backend", permissions, expiresAt: "2030-01-01T00:00:00Z" },
  });
  const key = data?.key;
  assertNotAny(key, true);
  if (key === undefined) return undefined;
  const revokedAt: string | null | undefined = data?.revokedAt;
  void revokedAt;
  return { workspaceId: workspace.id, key };
}

export async function badRequests(workspaceId: string): Promise<void> {
  await admin.POST("/workspaces/{workspaceId}/api-keys", {
    params: { path: { workspaceId } },
    // @ts-expect-error -- "ROOT" is not a Permission.
    body: { name: "bad", permissions: ["ROOT"] },
  });
  await admin.POST("/workspaces/{workspaceId}/api-keys", {
    params: { path: { workspaceId } },
    // @ts-expect-error -- permissions are required.
    body: { name: "no permissions" },
  });
  // @ts-expect-error -- name is required to create a workspace.
  await admin.POST("/workspaces", { body: {} });
}

export async function allWorkspaceNames(): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await admin.GET("/workspaces", {
      params: { query: { limit: 200, cursor } },
    });
    if (error) throw new Error(error.message);
    names.push(...data.data.map((workspace) => workspace.name));
    cursor = data.nextCursor;
  } while (cursor !== undefined);
  return names;
}

export async function keyPrefixes(workspaceId: string): Promise<string[]> {
  const { data } = await admin.GET("/workspaces/{workspaceId}/api-keys", {
    params: { path: { workspaceId } },
  });
  const keys = data ?? [];
  // @ts-expect-error -- listed keys never carry their secret.
  void keys[0]?.key;
  return keys.filter((apiKey) => apiKey.revokedAt === null).map((apiKey) => apiKey.prefix);
}

export async function revoke(workspaceId: string, keyId: string): Promise<boolean> {
  const { response } = await admin.DELETE("/workspaces/{workspaceId}/api-keys/{keyId}", {
    params: { path: { workspaceId, keyId } },
  });
  return response.status === 204;
}

export async function addProvider(): Promise<string | undefined> {
  const { data: provider } = await admin.POST("/dispatch-providers", {
    body: { code: "ACME", name: "Acme Field Services", protocolType: "REST" },
  });
  if (!provider) return undefined;
  const { data: definition } = await admin.PUT("/dispatch-providers/{providerId}/channel-definitions/{channel}", {
    params: { path: { providerId: provider.id, channel: "SALESMAN" } },
    body: {
      credentialSchema: [{ key: "apiKey", label: "API Key", type: "password", required: true }],
      settingsSchema: [],
    },
  });
  await admin.PATCH("/dispatch-providers/{providerId}", {
    params: { path: { providerId: provider.id } },
    // @ts-expect-error -- isActive is a boolean, not a string.
    body: { isActive: "no" },
  });
  return definition?.credentialSchema[0].key;
}
