import type { ApiDescription } from '../../fhir/metadata-route.js';

/** What the notifications API serves, for `GET /metadata` (interactions and operations come from its routes). */
export function notificationsApi(apiPath: string, publicUrl: string): ApiDescription {
  return {
    apiPath,
    publicUrl,
    software: 'OpenSpine Notifications',
    description:
      'OpenSpine national events: Subscriptions to PDS, SCR and EPS events, delivered by rest-hook or to a pull mailbox',
    date: '2026-12-06',
    security:
      "OAuth2 bearer tokens with an organisation; X-Request-ID (UUID) on every request; every route needs 'notifications.subscribe'",
    documentation: {
      Subscription:
        "Search takes no parameters: it lists the caller's organisation's subscriptions",
    },
  };
}
