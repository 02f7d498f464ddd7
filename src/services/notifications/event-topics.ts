/**
 * The notifications service's own topic: one routed event waiting for delivery to one subscriber.
 */

/** Notifications: one event to deliver to one rest-hook subscription (key `<subscriptionId>|<nhsNumber>`). */
export const NOTIFICATIONS_DELIVER = 'notifications.deliver';
