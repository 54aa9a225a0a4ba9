// Signs webhook requests with the vendors' own libraries, for the Ingest tests
// (server/signature, server/api/ingest): each line of stdin is a JSON request
// {scheme, secret, body, timestamp?, url?, id?}; each line of stdout is the JSON object of the
// headers (and, for Twilio's JSON bodies, the url) the vendor would send.
//
//   stripe             stripe's webhooks.generateTestHeaderString
//   github             @octokit/webhooks-methods' sign
//   standard_webhooks  standardwebhooks' Webhook.sign (also as svix-* headers: svix: true)
//   twilio             twilio's getExpectedTwilioSignature (and getExpectedBodyHash for JSON)
//   shopify            Shopify publishes no signer package: its documented Node.js snippet,
//                      crypto.createHmac('sha256', secret).update(body).digest('base64')
import { createHmac } from 'node:crypto';
import { createInterface } from 'node:readline';
import Stripe from 'stripe';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import twilio from 'twilio';

const stripe = new Stripe('sk_test_vendorsign');

async function headers(r) {
  switch (r.scheme) {
    case 'stripe':
      return { 'Stripe-Signature': stripe.webhooks.generateTestHeaderString({ payload: r.body, secret: r.secret, timestamp: r.timestamp }) };
    case 'github':
      return { 'X-Hub-Signature-256': await githubSign(r.secret, r.body) };
    case 'standard_webhooks': {
      const sig = new Webhook(r.secret).sign(r.id, new Date(r.timestamp * 1000), r.body);
      const p = r.svix ? 'svix-' : 'webhook-';
      return { [p + 'id']: r.id, [p + 'timestamp']: String(r.timestamp), [p + 'signature']: sig };
    }
    case 'twilio': {
      if (r.json) {
        const url = r.url + (r.url.includes('?') ? '&' : '?') + 'bodySHA256=' + twilio.getExpectedBodyHash(r.body);
        return { 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(r.secret, url, null), url };
      }
      const params = {};
      for (const [k, v] of new URLSearchParams(r.body)) {
        params[k] = k in params ? [].concat(params[k], v) : v;
      }
      return { 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(r.secret, r.url, params) };
    }
    case 'shopify':
      return { 'X-Shopify-Hmac-Sha256': createHmac('sha256', r.secret).update(r.body, 'utf8').digest('base64') };
  }
  throw new Error('no signer for ' + r.scheme);
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  process.stdout.write(JSON.stringify(await headers(JSON.parse(line))) + '\n');
}
