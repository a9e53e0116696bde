import { Link } from "@tanstack/react-router";
import type { ReactNode } from "react";
import { useSession } from "../api/use-session.ts";
import { useI18n } from "../i18n/i18n.tsx";
import { Loading } from "./states.tsx";

/** Sends people who are not signed in to the sign-in form, and back here afterwards. */
export function SignedInOnly({ next, children }: { next: string; children: ReactNode }) {
  const { t } = useI18n();
  const session = useSession();
  if (session.status === "loading") return <Loading />;
  if (session.status === "signedOut")
    return (
      <div className="py-10 text-center">
        <Link to="/me" search={{ next }} className="btn-primary">
          {t.navSignIn}
        </Link>
      </div>
    );
  return <>{children}</>;
}
