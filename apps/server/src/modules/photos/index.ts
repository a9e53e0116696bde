// The photos module's only door: other modules and roles import from here, never its files.
// Guests' photo uploads, their processing into the event's photo wall, deletion and the organizer's archive.
export { startPhotoJobs } from "./photo-processing.job.ts";
export type { PhotosContext as PhotosOptions } from "./photos-context.ts";
export { photosRoutes } from "./photos.routes.ts";
