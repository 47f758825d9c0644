/*===- examples/embed/main.c - a C program that trains an embedded model --===*\
|*                                                                            *|
|* Embeds the breast-cancer model (examples/breast_cancer/model.json) that   *|
|* kilnc compiled into an object file and a header, and drives it through    *|
|* the session API (kiln/session.h): loads the CSV data, trains a few        *|
|* epochs, evaluates on the held-out split, predicts, saves a checkpoint.    *|
|* Build and run: see README.md in this directory.                           *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "breast_cancer.h"

#include "kiln/data.h"
#include "kiln/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads a CSV file of the example (header row, label column "malignant"). */
static int load(const char *path, kiln_array_t **x, kiln_array_t **y) {
  kiln_csv_options_t options;
  char error[512];
  kiln_csv_options_init(&options);
  options.label_column = "malignant";
  if (kiln_csv_load(path, &options, x, y, error, sizeof error) != KILN_OK) {
    fprintf(stderr, "embed: %s\n", error);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s TRAIN.csv TEST.csv CHECKPOINT\n", argv[0]);
    return 2;
  }
  kiln_array_t *x_train = NULL, *y_train = NULL, *x_test = NULL, *y_test = NULL,
               *predictions = NULL;
  kiln_session_t *session = NULL;
  char error[512];
  int status = 1;
  if (load(argv[1], &x_train, &y_train) || load(argv[2], &x_test, &y_test))
    goto done;

  /* Parameters from the model's initializers, seeded. */
  if (kiln_session_create(&breast_cancer_model, /*seed=*/1, &session, error,
                          sizeof error) != KILN_OK) {
    fprintf(stderr, "embed: %s\n", error);
    goto done;
  }
  printf("batch size %lld\n", (long long)kiln_session_batch_size(session));

  /* 20 epochs, 20% validation, the model's learning rate (Adam 1e-3). */
  kiln_fit_options_t options;
  kiln_fit_options_init(&options);
  options.epochs = 20;
  options.validation_split = 0.2;
  double loss = 0;
  if (kiln_session_fit(session, x_train, y_train, &options, &loss) != KILN_OK) {
    fprintf(stderr, "embed: fit: %s\n", kiln_session_error(session));
    goto done;
  }
  printf("final training loss %.4f\n", loss);

  double values[8];
  int32_t count = kiln_session_metric_count(session);
  if (count > 8 ||
      kiln_session_evaluate(session, x_test, y_test, values) != KILN_OK) {
    fprintf(stderr, "embed: evaluate: %s\n", kiln_session_error(session));
    goto done;
  }
  printf("test:");
  for (int32_t i = 0; i < count; ++i)
    printf(" %s %.4f", kiln_session_metric_name(session, i), values[i]);
  printf("\n");

  if (kiln_session_predict(session, x_test, &predictions) != KILN_OK) {
    fprintf(stderr, "embed: predict: %s\n", kiln_session_error(session));
    goto done;
  }
  const float *p = (const float *)predictions->data;
  for (int i = 0; i < 3; ++i)
    printf("sample %d: P(malignant) = %.4f, label %.0f\n", i, p[i],
           ((const float *)y_test->data)[i]);

  if (kiln_session_save(session, argv[3]) != KILN_OK) {
    fprintf(stderr, "embed: save: %s\n", kiln_session_error(session));
    goto done;
  }
  printf("saved %s\n", argv[3]);
  status = 0;

done:
  kiln_session_destroy(session);
  kiln_array_destroy(x_train);
  kiln_array_destroy(y_train);
  kiln_array_destroy(x_test);
  kiln_array_destroy(y_test);
  kiln_array_destroy(predictions);
  return status;
}
