import "./zod-config.ts";
import { QueryClientProvider } from "@tanstack/react-query";
import { RouterProvider } from "@tanstack/react-router";
import { identify, init as initTracker } from "@turnout/tracker";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createQueryClient } from "./api/queries.ts";
import { getSession, refreshSession, subscribeSession } from "./api/session.ts";
import { I18nProvider } from "./i18n/i18n.tsx";
import { router } from "./router.tsx";
import "./styles.css";

// Turnout tracks its own app like any site: no write key, so the collector files it under the built-in
// default source (API.md "Interactions"). Page views come from the layout, on each route change.
initTracker({});
// Interactions carry the signed-in person's id; told once per sign-in or sign-out, not per token refresh.
let identified: string | null | undefined;
subscribeSession(() => {
  const session = getSession();
  const userId = session.user?.id ?? null;
  if (session.status === "loading" || userId === identified) return;
  identified = userId;
  identify(userId);
});
// A reload signs in again with the HttpOnly refresh cookie; pages wait for this before asking "who am I".
void refreshSession();

const queryClient = createQueryClient();
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <I18nProvider>
          <RouterProvider router={router} />
        </I18nProvider>
      </QueryClientProvider>
    </StrictMode>,
  );
}
