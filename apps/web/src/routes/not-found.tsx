import { Link } from "@tanstack/react-router";
import { useI18n } from "../i18n/i18n.tsx";

export function NotFound() {
  const { t } = useI18n();
  return (
    <section className="py-16 text-center">
      <h1 className="text-2xl font-bold">{t.notFoundTitle}</h1>
      <p className="mt-2 text-gray-600">{t.notFoundBody}</p>
      <Link to="/" className="btn-primary mt-6 inline-block">
        {t.backToDiscover}
      </Link>
    </section>
  );
}
