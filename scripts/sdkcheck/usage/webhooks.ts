// Type-checked only (tsc -p scripts/sdkcheck), never executed.
//
// A small backend integration of the Webhooks API written against the TypeScript types
// openapi-typescript generates from openapi/webhooks.yaml: set up an app, publish an event
// type, onboard a customer with a portal session, send messages, debug and replay.
// The @ts-expect-error lines prove the generated types are real.

import createClient from "openapi-fetch";
import type { components, paths } from "../out/webhooks";
import { assertNotAny } from "../notany";

type Message = components["schemas"]["Message"];
type Attempt = components["schemas"]["Attempt"];

const api = createClient<paths>({
  baseUrl: "http://127.0.0.1:8080/api/v1",
  headers: { Authorization: "Bearer sb_sk_example" },
});

export async function setUp(): Promise<string> {
  const { data: app, error } = await api.POST("/apps", {
    body: { name: "Billing webhooks", routingKeyBodyPath: "customer.id", routingKeyHeader: "x-customer-id" },
  });
  if (error) {
    const code: components["schemas"]["Error"]["code"] = error.code;
    throw new Error(`${code}: ${error.message}`);
  }
  const appId: string = app.appId;
  await api.PUT("/apps/{appId}/event-types/{eventTypeName}", {
    params: { path: { appId, eventTypeName: "invoice.paid" } },
    body: { description: "An invoice was paid", examplePayload: { invoiceId: "inv_123" }, schema: { type: "object" } },
  });
  // @ts-expect-error -- an app needs a name.
  await api.POST("/apps", { body: { routingKeyHeader: "x-customer-id" } });
  return appId;
}

export async function onboard(appId: string, recipientId: string): Promise<string | undefined> {
  await api.POST("/apps/{appId}/recipients", { params: { path: { appId } }, body: { recipientId, name: "Acme" } });
  const { data } = await api.POST("/apps/{appId}/recipients/{recipientId}/portal-sessions", {
    params: { path: { appId, recipientId } },
    body: { expiresInSeconds: 3600 },
  });
  assertNotAny(data?.token, true);
  const portal = createClient<paths>({
    baseUrl: "http://127.0.0.1:8080/api/v1",
    headers: { Authorization: `Bearer ${data?.token ?? ""}` },
  });
  const { data: endpoint } = await portal.POST("/apps/{appId}/recipients/{recipientId}/endpoints", {
    params: { path: { appId, recipientId } },
    body: { url: "https://customer.example.com/webhooks", eventTypes: ["invoice.paid"], rateLimitPerMinute: 600 },
  });
  await portal.PATCH("/apps/{appId}/recipients/{recipientId}/endpoints/{endpointId}", {
    params: { path: { appId, recipientId, endpointId: endpoint?.endpointId ?? "" } },
    // @ts-expect-error -- "sleeping" is not an endpoint status.
    body: { status: "sleeping" },
  });
  return data?.url;
}

export async function send(appId: string, invoiceId: string): Promise<Message | undefined> {
  const { data, response } = await api.POST("/apps/{appId}/messages", {
    params: { path: { appId } },
    body: { recipientId: "customer_123", eventType: "invoice.paid", data: { invoiceId }, idempotencyKey: `paid-${invoiceId}` },
  });
  if (response.status === 429) {
    const retry = response.headers.get("Retry-After");
    void retry;
  }
  // @ts-expect-error -- data must be an object, not a string.
  await api.POST("/apps/{appId}/messages", { params: { path: { appId } }, body: { eventType: "invoice.paid", data: "x" } });
  return data;
}

export async function failedAttempts(appId: string, messageId: string): Promise<Attempt[]> {
  const { data } = await api.GET("/apps/{appId}/messages/{messageId}/attempts", {
    params: { path: { appId, messageId }, query: { limit: 100 } },
  });
  const attempts = data?.data ?? [];
  return attempts.filter((a) => a.status === "failed" && (a.responseStatusCode ?? 0) >= 500);
}

export async function replayFailures(appId: string, since: string): Promise<number> {
  const { data: replay } = await api.POST("/apps/{appId}/replays", {
    params: { path: { appId } },
    body: { since, eventType: "invoice.paid", failedOnly: true },
  });
  if (!replay) return 0;
  const { data } = await api.GET("/apps/{appId}/replays/{replayId}", {
    params: { path: { appId, replayId: replay.replayId } },
  });
  const status: "running" | "completed" | undefined = data?.status;
  void status;
  return data?.replayed ?? 0;
}
