// The notifications module's only door: other modules and roles import from here, never its files.
// Organizers' announcements, and the in-app notifications each trigger leaves for the people it concerns.
export type { NotificationsContext as NotificationsOptions } from "./notifications-context.ts";
export { notificationsRoutes } from "./notifications.routes.ts";
export { consumeNotificationTriggers } from "./triggers.consumer.ts";
export { sendDueReminders, startReminders } from "./reminders.job.ts";
