/* vkcls-desktop: a GTK 3 window that classifies what you type, as you type, with the vkcls C API.
 *
 * Threads. The GTK main loop (the UI thread) never calls the engine and never waits for it. One
 * worker thread opens the engine once, then classifies the newest text the UI has posted:
 *
 *   UI thread                                  worker thread
 *   entry "changed" -> generation g+1, ------> takes the newest pending text (older ones that
 *     replaces the pending text, cancels         were never taken are dropped: coalescing),
 *     the call in flight if it is older          vkcls_classify with a fresh cancel token
 *   show_msg (g_idle_add) <-------------------- posts "label (score)" unless a newer text is
 *     shows it if it is for generation g+1       waiting (the result is stale)
 *
 * Only `pending`, `pending_gen`, `inflight_*`, `quit` and the counters are shared, under
 * `mutex`; the worker never holds it during an engine call, so the UI thread only ever waits
 * for a few pointer swaps. Errors (the model does not open, a text the model refuses) are shown
 * in the result label.
 *
 * usage: vkcls-desktop [MODEL_DIR]
 *   MODEL_DIR: a Hugging Face model folder or a hub id ORG/NAME in the local hub cache;
 *   default $VKCLS_MODEL, else assets/models/sentiment-minilm-l4 (the repository's, when run
 *   from its root). Ctrl+Q, closing the window, SIGINT or SIGTERM quit.
 */
#include <glib-unix.h>
#include <gtk/gtk.h>
#include <stdio.h>
#include <vkcls/vkcls.h>

typedef struct App {
  /* UI thread only */
  GtkWidget* window;
  GtkWidget* entry;
  GtkWidget* result; /* "positive (0.998)", or an error */
  GtkWidget* status; /* "loading model ...", "classifying ...", "classified in 12 ms" */
  guint64 ui_gen;    /* the generation of the entry's current text */
  gboolean ready;    /* the engine is open */
  gboolean failed;   /* the engine did not open: the error stays in the result label */
  gboolean closing;  /* the window is gone: messages still queued are only freed */
  const char* model_dir;
  GThread* worker;

  /* shared with the worker, under mutex */
  GMutex mutex;
  GCond cond;
  char* pending;                       /* the newest text not yet taken by the worker; NULL: none */
  guint64 pending_gen;                 /* the newest generation posted (also for an empty text) */
  vkcls_cancel_token* inflight_cancel; /* the call running now; NULL: none */
  guint64 inflight_gen;
  gboolean quit;
  guint posted, dropped, classified, cancelled, stale; /* for the summary at exit */
} App;

/* ---- worker -> UI ------------------------------------------------------------------------ */

typedef enum MsgKind { MSG_READY, MSG_OPEN_FAILED, MSG_RESULT } MsgKind;

typedef struct Msg {
  App* app;
  MsgKind kind;
  guint64 gen; /* MSG_RESULT: the text's generation */
  char* text;  /* the label text, or the model description (MSG_READY) */
  double ms;   /* MSG_RESULT: the classify call's wall time */
} Msg;

static void set_status(App* app, const char* text) {
  gtk_label_set_text(GTK_LABEL(app->status), text);
}

/* Runs on the UI thread (g_idle_add). */
static gboolean show_msg(gpointer data) {
  Msg* msg = data;
  App* app = msg->app;
  if (!app->closing) {
    if (msg->kind == MSG_READY) {
      app->ready = TRUE;
      char* s = g_strdup_printf("ready: %s", msg->text);
      set_status(app, s);
      g_free(s);
      /* text typed while the model loaded is already pending with the worker */
      if (gtk_entry_get_text_length(GTK_ENTRY(app->entry)) > 0) set_status(app, "classifying ...");
    } else if (msg->kind == MSG_OPEN_FAILED) {
      app->failed = TRUE;
      gtk_label_set_attributes(GTK_LABEL(app->result), NULL); /* a long message: normal size */
      gtk_label_set_text(GTK_LABEL(app->result), msg->text);
      set_status(app, "the model did not open");
    } else if (msg->gen == app->ui_gen) { /* a result for an older text is not shown */
      gtk_label_set_text(GTK_LABEL(app->result), msg->text);
      char* s = g_strdup_printf("classified in %.0f ms", msg->ms);
      set_status(app, s);
      g_free(s);
    }
  }
  g_free(msg->text);
  g_free(msg);
  return G_SOURCE_REMOVE;
}

static void post(App* app, MsgKind kind, guint64 gen, char* text, double ms) {
  Msg* msg = g_new0(Msg, 1);
  *msg = (Msg){app, kind, gen, text, ms};
  g_idle_add(show_msg, msg);
}

/* "positive (0.998)", or the item's error. */
static char* describe(vkcls_status status, const vkcls_classify_result* r) {
  if (status != VKCLS_OK) return g_strdup_printf("Error: %s", vkcls_last_error());
  const vkcls_classify_item* item = &r->items[0];
  if (item->status != VKCLS_OK) return g_strdup_printf("Error: %s", item->error);
  return g_strdup_printf("%s (%.3f)", item->label, item->probs[item->label_index]);
}

static gpointer worker_main(gpointer data) {
  App* app = data;
  vkcls_options options;
  vkcls_options_init(&options);
  options.model_dir = app->model_dir;
  vkcls_engine* engine = NULL;
  if (vkcls_engine_open(&options, &engine) != VKCLS_OK) {
    /* vkcls_last_error is this thread's: copied before the UI thread sees it */
    post(app, MSG_OPEN_FAILED, 0, g_strdup_printf("Error: %s", vkcls_last_error()), 0);
    return NULL;
  }
  const vkcls_model_info* info = NULL;
  if (vkcls_engine_info(engine, &info) == VKCLS_OK)
    post(app, MSG_READY, 0,
         g_strdup_printf("%s (%s) on %s", info->architecture, info->dtype, info->device), 0);
  else
    post(app, MSG_READY, 0, g_strdup(app->model_dir), 0);

  g_mutex_lock(&app->mutex);
  for (;;) {
    while (!app->quit && !app->pending) g_cond_wait(&app->cond, &app->mutex);
    if (app->quit) break;
    char* text = app->pending;
    guint64 gen = app->pending_gen;
    app->pending = NULL;
    vkcls_cancel_token* cancel = NULL;
    vkcls_status st = vkcls_cancel_token_new(&cancel);
    if (st != VKCLS_OK) {
      post(app, MSG_RESULT, gen, g_strdup_printf("Error: %s", vkcls_last_error()), 0);
      g_free(text);
      continue;
    }
    app->inflight_cancel = cancel;
    app->inflight_gen = gen;
    g_mutex_unlock(&app->mutex);

    vkcls_params params;
    vkcls_params_init(&params);
    params.cancel = cancel;
    params.truncate_prompt_tokens = -1; /* a long paste is classified on its start */
    const char* texts[1] = {text};
    vkcls_classify_result* result = NULL;
    gint64 t0 = g_get_monotonic_time();
    st = vkcls_classify(engine, texts, 1, &params, &result);
    double ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
    char* shown = st == VKCLS_ERROR_CANCELLED ? NULL : describe(st, result);
    vkcls_classify_result_free(result);
    g_free(text);

    g_mutex_lock(&app->mutex);
    app->inflight_cancel = NULL;
    vkcls_cancel_token_free(cancel); /* no call uses it now */
    if (st == VKCLS_ERROR_CANCELLED) {
      app->cancelled++;
    } else if (app->pending_gen > gen) { /* the user typed on meanwhile */
      app->stale++;
      g_free(shown);
    } else {
      app->classified++;
      post(app, MSG_RESULT, gen, shown, ms);
    }
  }
  g_mutex_unlock(&app->mutex);
  vkcls_engine_close(engine);
  return NULL;
}

/* ---- UI thread --------------------------------------------------------------------------- */

static void on_changed(GtkEditable* editable, gpointer data) {
  (void)editable;
  App* app = data;
  if (app->failed) return;
  const char* text = gtk_entry_get_text(GTK_ENTRY(app->entry));
  guint64 gen = ++app->ui_gen;
  g_mutex_lock(&app->mutex);
  if (app->pending) {
    g_free(app->pending);
    app->dropped++;
  }
  app->pending = *text ? g_strdup(text) : NULL; /* an empty text is not classified */
  app->pending_gen = gen;
  app->posted++;
  if (app->inflight_cancel && app->inflight_gen < gen) vkcls_cancel(app->inflight_cancel);
  g_cond_signal(&app->cond);
  g_mutex_unlock(&app->mutex);
  if (!*text) {
    gtk_label_set_text(GTK_LABEL(app->result), "");
    set_status(app, app->ready ? "type a sentence" : "loading the model ...");
  } else {
    set_status(app, app->ready ? "classifying ..." : "loading the model ...");
  }
}

static gboolean on_key(GtkWidget* widget, GdkEventKey* event, gpointer data) {
  (void)data;
  if ((event->state & GDK_CONTROL_MASK) &&
      (event->keyval == GDK_KEY_q || event->keyval == GDK_KEY_Q)) {
    gtk_widget_destroy(widget);
    return TRUE;
  }
  return FALSE;
}

static gboolean on_signal(gpointer data) {
  App* app = data;
  if (app->window) gtk_widget_destroy(app->window);
  return G_SOURCE_CONTINUE;
}

static void on_destroy(GtkWidget* widget, gpointer data) {
  (void)widget;
  App* app = data;
  app->closing = TRUE;
  app->window = NULL;
  gtk_main_quit();
}

/* Accessible descriptions name the widgets for screen readers and for the test, which finds
 * them through the accessibility tree (AT-SPI). */
static void describe_widget(GtkWidget* widget, const char* description) {
  atk_object_set_description(gtk_widget_get_accessible(widget), description);
}

static void build_window(App* app) {
  app->window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
  gtk_window_set_title(GTK_WINDOW(app->window), "vkcls desktop");
  gtk_window_set_default_size(GTK_WINDOW(app->window), 520, 160);
  GtkWidget* box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 8);
  gtk_container_set_border_width(GTK_CONTAINER(box), 16);

  app->entry = gtk_entry_new();
  gtk_entry_set_placeholder_text(GTK_ENTRY(app->entry), "Type a sentence");
  describe_widget(app->entry, "text to classify");

  app->result = gtk_label_new("");
  PangoAttrList* attrs = pango_attr_list_new();
  pango_attr_list_insert(attrs, pango_attr_scale_new(1.8));
  pango_attr_list_insert(attrs, pango_attr_weight_new(PANGO_WEIGHT_BOLD));
  gtk_label_set_attributes(GTK_LABEL(app->result), attrs);
  pango_attr_list_unref(attrs);
  gtk_label_set_selectable(GTK_LABEL(app->result), FALSE);
  gtk_label_set_line_wrap(GTK_LABEL(app->result), TRUE);
  describe_widget(app->result, "classification");

  app->status = gtk_label_new("loading the model ...");
  gtk_widget_set_halign(app->status, GTK_ALIGN_START);
  describe_widget(app->status, "status");

  GtkWidget* model = gtk_label_new(NULL);
  char* m = g_strdup_printf("model: %s", app->model_dir);
  gtk_label_set_text(GTK_LABEL(model), m);
  g_free(m);
  gtk_label_set_ellipsize(GTK_LABEL(model), PANGO_ELLIPSIZE_START);
  gtk_widget_set_halign(model, GTK_ALIGN_START);

  gtk_box_pack_start(GTK_BOX(box), app->entry, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), app->result, TRUE, TRUE, 0);
  gtk_box_pack_start(GTK_BOX(box), app->status, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), model, FALSE, FALSE, 0);
  gtk_container_add(GTK_CONTAINER(app->window), box);

  g_signal_connect(app->entry, "changed", G_CALLBACK(on_changed), app);
  g_signal_connect(app->window, "key-press-event", G_CALLBACK(on_key), app);
  g_signal_connect(app->window, "destroy", G_CALLBACK(on_destroy), app);
  gtk_widget_show_all(app->window);
  gtk_widget_grab_focus(app->entry);
}

int main(int argc, char** argv) {
  g_set_prgname("vkcls-desktop");
  gtk_init(&argc, &argv);
  if (argc > 2) {
    fprintf(stderr, "usage: %s [MODEL_DIR]\n", argv[0]);
    return 2;
  }
  App app = {0};
  g_mutex_init(&app.mutex);
  g_cond_init(&app.cond);
  const char* env_model = g_getenv("VKCLS_MODEL");
  app.model_dir = argc == 2                 ? argv[1]
                  : env_model && *env_model ? env_model
                                            : "assets/models/sentiment-minilm-l4";

  build_window(&app);
  /* the engine opens on the worker (seconds): the window is up and takes typing meanwhile */
  app.worker = g_thread_new("vkcls-worker", worker_main, &app);
  g_unix_signal_add(SIGINT, on_signal, &app);
  g_unix_signal_add(SIGTERM, on_signal, &app);
  gtk_main();

  /* stop the worker: the call in flight is cancelled, then the engine closes on its thread */
  g_mutex_lock(&app.mutex);
  app.quit = TRUE;
  if (app.inflight_cancel) vkcls_cancel(app.inflight_cancel);
  g_cond_signal(&app.cond);
  g_mutex_unlock(&app.mutex);
  g_thread_join(app.worker);
  while (g_main_context_pending(NULL)) g_main_context_iteration(NULL, FALSE); /* frees messages */

  printf(
      "vkcls-desktop: %u text changes, %u classified and shown, %u dropped before they ran, "
      "%u cancelled in flight, %u stale results discarded\n",
      app.posted, app.classified, app.dropped, app.cancelled, app.stale);
  g_free(app.pending);
  g_mutex_clear(&app.mutex);
  g_cond_clear(&app.cond);
  return 0;
}
