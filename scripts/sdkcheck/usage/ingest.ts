// Type-checked only (tsc -p scripts/sdkcheck), never executed.
//
// A small backend integration of the Ingest API written against the TypeScript types
// openapi-typescript generates from openapi/ingest.yaml: create a Stripe source and a filtered
// destination, read the ledger, handle an issue and replay it.
// The @ts-expect-error lines prove the generated types are real.

import createClient from "openapi-fetch";
import type { components, paths } from "../out/ingest";

type Event = components["schemas"]["Event"];
type Issue = components["schemas"]["Issue"];

// Compile-time guard: `IsAny<T>` is `true` only for `any`.
type IsAny<T> = 0 extends 1 & T ? true : false;
function assertNotAny<T>(_value: T, _notAny: IsAny<T> extends true ? never : true): void {}

const api = createClient<paths>({
  baseUrl: "http://127.0.0.1:8080/api/v1/ingest",
  headers: { Authorization: "Bearer sb_sk_example" },
});

export async function setUp(): Promise<string> {
  const { data: source, error } = await api.POST("/sources", {
    body: { name: "Stripe production", type: "stripe", secret: "whsec_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH" },
  });
  if (error) {
    const code: components["schemas"]["Error"]["code"] = error.code;
    throw new Error(`${code}: ${error.message}`);
  }
  const url: string = source.url; // give it to Stripe
  assertNotAny(url, true);
  await api.POST("/destinations", {
    body: {
      url: "https://billing.example.com/webhooks/stripe",
      sourceIds: [source.sourceId],
      eventTypes: ["invoice.*"],
      bodyFilter: { data: { object: { amount_paid: { $gte: 1000 } } } },
      auth: { type: "bearer", token: "internal-token" },
    },
  });
  // @ts-expect-error -- "paypal" is not a source type.
  await api.POST("/sources", { body: { name: "PayPal", type: "paypal" } });
  return source.sourceId;
}

export async function failedVerifications(sourceId: string): Promise<Event[]> {
  const { data } = await api.GET("/events", {
    params: { query: { sourceId, verification: "failed", limit: 20 } },
  });
  for (const e of data?.data ?? []) {
    const reason: string | null = e.verification.failureReason;
    void reason;
  }
  return data?.data ?? [];
}

export async function recover(): Promise<Issue | undefined> {
  const { data: count } = await api.GET("/issues/count", { params: { query: { status: "open" } } });
  if (!count || count.count === 0) return undefined;
  const { data: issues } = await api.GET("/issues", { params: { query: { status: "open", type: "delivery" } } });
  const issue = issues?.data[0];
  if (!issue) return undefined;
  await api.PATCH("/issues/{issueId}", { params: { path: { issueId: issue.issueId } }, body: { status: "acknowledged" } });
  const { data: replay } = await api.POST("/issues/{issueId}/replay", { params: { path: { issueId: issue.issueId } } });
  const progress = await api.GET("/replays/{replayId}", { params: { path: { replayId: replay?.replayId ?? "" } } });
  const replayed: number | undefined = progress.data?.replayed;
  void replayed;
  await api.PATCH("/issues/{issueId}", {
    params: { path: { issueId: issue.issueId } },
    // @ts-expect-error -- "closed" is not an issue status.
    body: { status: "closed" },
  });
  return issue;
}
