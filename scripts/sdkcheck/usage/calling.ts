// Type-checked only (tsc -p scripts/sdkcheck), never executed.
//
// A small, realistic client of the Calling API written against the TypeScript
// types openapi-typescript generates from openapi/calling.yaml. If a spec change
// breaks what a client like this relies on (a renamed field, a path, a required
// property, an enum value), scripts/spec-check.sh fails. The @ts-expect-error
// lines prove the generated types are real: with `any` types they would be
// unused and tsc would fail.

import createClient from "openapi-fetch";
import type { components, paths } from "../out/calling";
import { assertNotAny } from "../notany";

type CallExecutionConfig = components["schemas"]["CallExecutionConfig"];
type Decision = components["schemas"]["Decision"];

const client = createClient<paths>({
  baseUrl: "http://127.0.0.1:8080/calling",
  headers: { Authorization: "Bearer sb_sk_example" },
});

export async function createSeedConfiguration(): Promise<string> {
  const { data, error } = await client.POST("/configurations", {
    body: {
      reseller_id: "res_001",
      template: "tpl_xyz789",
      merchant_id: "mer_abc",
      initial_offset: 0,
      retry_offset: 3600,
      call_start_time: "09:00",
      call_end_time: "21:00",
      max_retry: 3,
      calling_provider: "TWILIO",
      enable_international_call: false,
      rate_limit_enabled: true,
      rate_limit_max_calls: 100,
      rate_limit_window_seconds: 60,
      rate_limit_whitelist: [],
      pre_checks: [],
    },
  });
  if (error) {
    // Validation errors list every invalid field; other errors carry a message.
    const detail = error.detail;
    if (typeof detail === "string") throw new Error(detail);
    throw new Error(detail.map((i) => `${i.loc.join(".")}: ${i.msg} (${i.type})`).join("; "));
  }
  const created: CallExecutionConfig = data;
  const tz: string = created.inbound_call_timezone;
  assertNotAny(tz, true);
  return created.id;
}

export async function badProvider(): Promise<void> {
  await client.POST("/configurations", {
    body: {
      reseller_id: "r",
      template: "t",
      initial_offset: 0,
      retry_offset: 60,
      call_start_time: "09:00",
      call_end_time: "21:00",
      max_retry: 1,
      // @ts-expect-error -- "VONAGE" is not a CallProvider.
      calling_provider: "VONAGE",
    },
  });
}

export async function redirectAfterHours(id: string): Promise<string | null | undefined> {
  const { data } = await client.PUT("/configurations/{id}", {
    params: { path: { id } },
    body: {
      enable_inbound: true,
      inbound_call_start_time: "09:00",
      inbound_call_end_time: "22:00",
      inbound_block_action: "REDIRECT",
      inbound_redirect_number: "+919999999999",
      pre_checks: [{ name: "dnd_check", type: "external_api", enabled: true, default_on_failure: "proceed" }],
    },
  });
  // @ts-expect-error -- default_on_failure is proceed | skip.
  await client.PUT("/configurations/{id}", { params: { path: { id } }, body: { pre_checks: [{ name: "x", default_on_failure: "abort" }] } });
  return data?.inbound_redirect_number;
}

export async function byReseller(reseller: string): Promise<CallExecutionConfig[]> {
  const { data } = await client.GET("/configurations", { params: { query: { reseller_id: reseller, template: "tpl_xyz789" } } });
  return data ?? [];
}

export async function pauseReseller(reseller: string): Promise<number> {
  const { data } = await client.PATCH("/configurations/calling/activation", {
    params: { query: { enable_calling: false, reseller_id: reseller } },
  });
  return data?.updated ?? 0;
}

export async function mayCall(id: string, number: string): Promise<Decision["decision"] | undefined> {
  const { data } = await client.POST("/configurations/{id}/decisions", {
    params: { path: { id } },
    body: { direction: "outbound", number, attempt: 1, payload: { order_id: "o-1" } },
  });
  if (data?.decision === "defer") {
    const until: string | null = data.defer_until;
    void until;
  }
  // @ts-expect-error -- direction is outbound | inbound.
  await client.POST("/configurations/{id}/decisions", { params: { path: { id } }, body: { direction: "sideways", number } });
  return data?.decision;
}

export async function blacklist(number: string): Promise<number> {
  const { data } = await client.POST("/blacklist", { body: { numbers: [number], reason: "opted out" } });
  await client.DELETE("/blacklist/{number}", { params: { path: { number } } });
  const { data: list } = await client.GET("/blacklist");
  return (data?.added ?? 0) + (list?.length ?? 0);
}

export async function remove(id: string): Promise<boolean> {
  const { response } = await client.DELETE("/configurations/{id}", { params: { path: { id } } });
  return response.status === 204;
}
