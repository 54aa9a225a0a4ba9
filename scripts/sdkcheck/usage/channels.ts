// Type-checked only (tsc -p scripts/sdkcheck), never executed.
//
// A small, realistic client of the Channels API written against the TypeScript
// types openapi-typescript generates from openapi/channels.yaml: page through a
// workspace's channels, read one, create and change one, and check a contact's
// service window before sending a free-form message. The @ts-expect-error lines
// prove the generated types are real.

import createClient from "openapi-fetch";
import type { components, paths } from "../out/channels";
import { assertNotAny } from "../notany";

type Channel = components["schemas"]["Channel"];
type ChannelStatus = components["schemas"]["ChannelStatus"];

// The spec's server is http://127.0.0.1:8080/workspaces: paths are relative to it.
const client = createClient<paths>({
  baseUrl: "http://127.0.0.1:8080/workspaces",
  headers: { Authorization: "AccessKey sb_sk_example" },
});

export async function allWhatsAppChannels(workspaceId: string): Promise<Channel[]> {
  const out: Channel[] = [];
  let pageToken: string | undefined;
  do {
    const { data, error } = await client.GET("/{workspaceId}/channels", {
      params: {
        path: { workspaceId },
        query: { limit: 100, pageToken, platform: ["whatsapp"], status: ["active", "warning"] },
      },
    });
    if (error) {
      // RequestError, with per-field details for a 400.
      const problems: string[] | undefined = error.details?.["query.pageToken"];
      throw new Error(`${error.code}: ${error.message} ${problems?.join(", ") ?? ""}`);
    }
    out.push(...data.results);
    pageToken = data.nextPageToken;
  } while (pageToken);
  return out;
}

export async function describe(workspaceId: string, channelId: string): Promise<string> {
  const { data } = await client.GET("/{workspaceId}/channels/{channelId}", {
    params: { path: { workspaceId, channelId } },
  });
  if (!data) return "";
  const status: ChannelStatus = data.status;
  const url: string | null | undefined = data.platformServiceUrlOverride;
  const paused: boolean | undefined = data.capabilities?.messaging?.messaging?.outgoing?.mms?.paused;
  const secretShown: string | undefined = data.connectionParams?.find((p) => p.visibility !== "public")?.value;
  assertNotAny(status, true);
  // @ts-expect-error -- "archived" is not a channel status.
  const wrong: ChannelStatus = "archived";
  void wrong;
  return `${data.name} (${data.platformId}) ${status} ${url ?? "-"} ${paused ?? "-"} ${secretShown ?? ""}`;
}

export async function install(workspaceId: string): Promise<string | undefined> {
  const { data, error } = await client.POST("/{workspaceId}/channels", {
    params: { path: { workspaceId } },
    body: {
      platformId: "whatsapp",
      name: "Support",
      platformServiceUrlOverride: "https://wa.example.com",
      connectionParams: [{ key: "accessToken", value: "EAAG...", visibility: "private" }],
      useCaseType: "conversation",
      suites: ["service"],
    },
  });
  if (error) return `${error.code}: ${error.message}`;
  await client.POST("/{workspaceId}/channels", {
    params: { path: { workspaceId } },
    // @ts-expect-error -- name is required.
    body: { platformId: "sms" },
  });
  return data.connectorId;
}

export async function rename(workspaceId: string, channelId: string): Promise<void> {
  await client.PATCH("/{workspaceId}/channels/{channelId}", {
    params: { path: { workspaceId, channelId } },
    body: { name: "Support (EU)", platformServiceUrlOverride: null },
  });
  await client.PATCH("/{workspaceId}/channels/{channelId}", {
    params: { path: { workspaceId, channelId } },
    // @ts-expect-error -- "deleted" is reached through DELETE, not set.
    body: { status: "deleted" },
  });
  await client.DELETE("/{workspaceId}/channels/{channelId}", { params: { path: { workspaceId, channelId } } });
}

export async function canSendFreeForm(workspaceId: string, channelId: string, phone: string): Promise<boolean> {
  const contact = await client.POST("/{workspaceId}/contacts", {
    params: { path: { workspaceId } },
    body: { identifiers: [{ key: "phonenumber", value: phone }] },
  });
  const contactId = contact.data?.id;
  if (!contactId) return false;
  await client.POST("/{workspaceId}/channels/{channelId}/contacts/{contactId}/inbound-messages", {
    params: { path: { workspaceId, channelId, contactId } },
    body: { receivedAt: new Date().toISOString(), identifierValue: phone },
  });
  const { data } = await client.GET("/{workspaceId}/channels/{channelId}/contacts/{contactId}", {
    params: { path: { workspaceId, channelId, contactId }, query: { contactIdentifierValue: phone } },
  });
  if (!data) return false;
  const expireAt: string | null = data.serviceWindowExpireAt;
  return data.isPermanentSession === true || (expireAt !== null && new Date(expireAt) > new Date());
}
